#!/usr/bin/env python3
"""Turn a list of bug fixes (a public bug dataset) into a ``council eval`` dataset.

Bug datasets such as Defects4J, BugsInPy or BugsJS give, for each bug, a project
repository and a *buggy* and a *fixed* revision. A review benchmark needs the change
that *introduces* the bug; the reverse of the fix is a faithful stand-in: reviewing
``fixed..buggy`` shows the buggy lines as added, and the golden issues are exactly
the lines the fix had to change. (When a dataset names the bug-introducing commit
itself, e.g. from SZZ, use a ``repo`` case with ``base`` = its parent and ``head`` =
it, and label the lines the later fix touched.)

Input: JSONL, one bug per line, paths relative to the input file::

    {"id": "thefuck-3", "repo": "projects/thefuck", "buggy": "<sha>", "fixed": "<sha>",
     "description": "The shell alias ignores the --enable-experimental-instant-mode flag"}

An optional ``"paths": ["src/"]`` limits the golden issues to those paths (fix
commits often carry tests and docs too).

Output (stdout or ``-o``): one ``repo`` case per bug, ``base`` = fixed, ``head`` =
buggy, and one golden issue per hunk of ``git diff -U0 fixed buggy`` (the buggy
lines; where the fix only *added* code, the line before the missing code), each
with the bug's description. Paths in the output are relative to the output file.
Nothing is fetched: the repositories must already be cloned. Check the result with
``council eval OUT --dry-run``.

    python eval/from_fix_commits.py bugs.jsonl -o dataset/cases.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


def golden_from_diff(diff: str, description: str) -> list[dict[str, Any]]:
    """One golden issue per hunk of a ``-U0`` diff, on its new side."""
    golden: list[dict[str, Any]] = []
    path: str | None = None
    for line in diff.splitlines():
        if line.startswith("+++ "):
            path = line[6:] if line.startswith("+++ b/") else None  # /dev/null: file deleted
            continue
        match = _HUNK.match(line)
        if match is None or path is None:
            continue
        start, count = int(match.group(1)), int(match.group(2) or "1")
        if count == 0:  # the fix only added code: point at the line before the gap
            issue: dict[str, Any] = {"path": path, "line": max(start, 1)}
        else:
            issue = {"path": path, "line": start}
            if count > 1:
                issue["end_line"] = start + count - 1
        issue["description"] = description
        golden.append(issue)
    return golden


def convert(bug: dict[str, Any], source_dir: Path, out_dir: Path) -> dict[str, Any]:
    repo = (source_dir / bug["repo"]).resolve()
    done = subprocess.run(
        ["git", "-C", str(repo), "diff", "-U0", "--no-color", "--no-ext-diff", "-M",
         "--src-prefix=a/", "--dst-prefix=b/", bug["fixed"], bug["buggy"], "--",
         *bug.get("paths", [])],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{bug['id']}: git diff failed: {done.stderr.strip()}")
    return {
        "id": bug["id"],
        "repo": os.path.relpath(repo, out_dir),
        "base": bug["fixed"],
        "head": bug["buggy"],
        "golden": golden_from_diff(done.stdout, bug["description"]),
        "description": "the reverse of the fix: " + bug["description"],
        "meta": {k: v for k, v in bug.items() if k not in ("id", "repo", "description", "paths")},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("bugs", type=Path, help="JSONL: id, repo, buggy, fixed, description")
    parser.add_argument("-o", "--output", type=Path, help="the dataset file (default: stdout)")
    args = parser.parse_args(argv)
    out_dir = (args.output.parent if args.output else Path.cwd()).resolve()
    cases = []
    for number, raw in enumerate(args.bugs.read_text().splitlines(), start=1):
        if not raw.strip():
            continue
        bug = json.loads(raw)
        missing = [k for k in ("id", "repo", "buggy", "fixed", "description") if k not in bug]
        if missing:
            raise SystemExit(f"{args.bugs}:{number}: missing {', '.join(missing)}")
        cases.append(convert(bug, args.bugs.resolve().parent, out_dir))
    text = "".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
