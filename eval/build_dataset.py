#!/usr/bin/env python3
"""Build the ``classic-defects`` dataset for ``council eval``: small projects, real git history.

Each case is a tiny but realistic project. The generator commits its *base* tree in
a fresh git repository, then a *head* commit that makes a plausible change (a new
endpoint, a helper, a refactor) and, in most cases, introduces one well-known class
of defect — the kind public bug trackers and CVE databases are full of, written here
from scratch in our own words and code. Two cases change code correctly and have
nothing to find: they measure false positives.

For every case the dataset holds the base tree (``cases/<id>/base/``), the change as
``git diff base head`` (``cases/<id>/change.patch``), and a line of ``cases.jsonl``
whose golden issues point at the defective lines of the new file. Golden line
numbers are not written by hand: each golden issue names a marker text that must
occur exactly once in the head file, and must sit on a line the change added.

Deterministic: fixed commit identity and dates, git's config ignored, so the
output is byte-for-byte the same on every run (``--check`` verifies the committed
copy). Standard library only; needs git.

    python eval/build_dataset.py            # (re)write eval/datasets/classic-defects
    python eval/build_dataset.py --check    # exit 1 if the committed copy is stale
    python eval/build_dataset.py --out DIR  # write somewhere else
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from defect_cases import CASES, Case, Golden

NAME = "classic-defects"
DEFAULT_OUT = Path(__file__).resolve().parent / "datasets" / NAME
_DATE = "2024-03-01T12:00:00Z"


# ----------------------------------------------------------------------------- building


def _git_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="council dataset",
        GIT_AUTHOR_EMAIL="dataset@council.invalid",
        GIT_COMMITTER_NAME="council dataset",
        GIT_COMMITTER_EMAIL="dataset@council.invalid",
        GIT_AUTHOR_DATE=_DATE,
        GIT_COMMITTER_DATE=_DATE,
        LC_ALL="C",
    )
    return env


def _git(repo: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "core.autocrlf=false", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def _write_tree(root: Path, files: Mapping[str, str]) -> None:
    for relative, content in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode("utf-8"))


_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def added_lines(patch: str) -> dict[str, set[int]]:
    """New-file line numbers of added lines, per path, from a git patch."""
    added: dict[str, set[int]] = {}
    path = ""
    line = 0
    for text in patch.splitlines():
        if text.startswith("+++ "):
            path = text[6:] if text.startswith("+++ b/") else ""
            added.setdefault(path, set())
        elif match := _HUNK.match(text):
            line = int(match.group(1))
        elif text.startswith("+"):
            added[path].add(line)
            line += 1
        elif text.startswith(" "):
            line += 1
    return added


def golden_line(case: Case, golden: Golden, head_text: str) -> int:
    hits = [n for n, text in enumerate(head_text.splitlines(), start=1) if golden.marker in text]
    if len(hits) != 1:
        raise SystemExit(
            f"{case.id}: marker {golden.marker!r} occurs {len(hits)} times in {golden.path}"
        )
    return hits[0]


def build_case(case: Case, out: Path, scratch: Path) -> dict[str, object]:
    repo = scratch / case.id
    repo.mkdir(parents=True)
    env = _git_env(scratch / "home")
    _git(repo, env, "init", "--quiet", "--initial-branch=main")
    _write_tree(repo, case.base)
    _git(repo, env, "add", "--all")
    _git(repo, env, "commit", "--quiet", "-m", "base")
    _write_tree(repo, case.head)
    _git(repo, env, "add", "--all")
    _git(repo, env, "commit", "--quiet", "-m", "change")
    patch = _git(
        repo,
        env,
        "diff",
        "--no-color",
        "--no-ext-diff",
        "-M",
        "--unified=3",
        "--src-prefix=a/",
        "--dst-prefix=b/",
        "HEAD~1",
        "HEAD",
    )
    folder = out / "cases" / case.id
    _write_tree(folder / "base", case.base)
    (folder / "change.patch").write_bytes(patch.encode("utf-8"))

    added = added_lines(patch)
    head_files = {**case.base, **case.head}
    golden = []
    for g in case.golden:
        line = golden_line(case, g, head_files[g.path])
        end = line + g.lines - 1
        missing = [n for n in range(line, end + 1) if n not in added.get(g.path, set())]
        if missing:
            raise SystemExit(f"{case.id}: golden lines {missing} of {g.path} are not added lines")
        item: dict[str, object] = {"path": g.path, "line": line}
        if end != line:
            item["end_line"] = end
        item.update(description=g.description, severity=g.severity)
        golden.append(item)
    return {
        "id": case.id,
        "description": case.description,
        "patch": f"cases/{case.id}/change.patch",
        "base_tree": f"cases/{case.id}/base",
        "golden": golden,
        "meta": dict(case.meta),
    }


def readme(lines: list[dict[str, object]]) -> str:
    rows = []
    for line in lines:
        meta = line["meta"]
        assert isinstance(meta, dict)
        golden = line["golden"]
        assert isinstance(golden, list)
        rows.append(
            f"| `{line['id']}` | {meta.get('class', '')} | {meta.get('language', '')} "
            f"| {len(golden)} | {line['description']} |"
        )
    table = "\n".join(rows)
    total = sum(len(g) for line in lines if isinstance(g := line["golden"], list))
    return (
        f"# {NAME}\n\n"
        "Generated by `eval/build_dataset.py` — do not edit by hand; change the generator and\n"
        "run it again (`python eval/build_dataset.py`, `--check` to verify).\n\n"
        f"{len(lines)} cases, {total} golden issues. Every case is a small project with two\n"
        "commits: a base tree (`cases/<id>/base/`) and a change (`cases/<id>/change.patch`,\n"
        "`git diff base head`) that introduces one well-known class of defect, written for\n"
        "this dataset. The two `clean` cases change code correctly and measure false\n"
        "positives. Run it with `council eval eval/datasets/classic-defects`.\n\n"
        "| id | defect class | language | golden | what the change does |\n"
        "|---|---|---|---|---|\n"
        f"{table}\n"
    )


def build(out: Path) -> None:
    if (out / "cases").exists():
        shutil.rmtree(out / "cases")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="council-dataset-") as tmp:
        lines = [build_case(case, out, Path(tmp)) for case in CASES]
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    (out / "cases.jsonl").write_bytes(text.encode("utf-8"))
    (out / "README.md").write_bytes(readme(lines).encode("utf-8"))


def differences(left: Path, right: Path) -> list[str]:
    found: list[str] = []

    def walk(cmp: filecmp.dircmp[str], prefix: str) -> None:
        found.extend(f"only in {left / prefix / n}" for n in cmp.left_only)
        found.extend(f"only in {right / prefix / n}" for n in cmp.right_only)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        found.extend(f"differs: {prefix}{n}" for n in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(left, right), "")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="dataset folder to write")
    parser.add_argument(
        "--check", action="store_true", help="verify --out is what the generator writes"
    )
    args = parser.parse_args(argv)
    if not args.check:
        build(args.out)
        print(f"wrote {len(CASES)} cases to {args.out}")
        return 0
    with tempfile.TemporaryDirectory(prefix="council-dataset-check-") as tmp:
        fresh = Path(tmp) / NAME
        build(fresh)
        if not args.out.is_dir():
            print(f"{args.out} does not exist", file=sys.stderr)
            return 1
        diff = differences(fresh, args.out)
    if diff:
        print(f"{args.out} is stale; run eval/build_dataset.py:", file=sys.stderr)
        for line in diff:
            print(f"  {line}", file=sys.stderr)
        return 1
    print(f"{args.out} is up to date ({len(CASES)} cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
