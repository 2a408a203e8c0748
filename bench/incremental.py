"""Incremental re-review: after one file of a 50-file diff changes, what runs again?

A real git repository in a temporary directory holds 50 Python files (lines of
the standard library's sources) in a few packages; each gets 2-5 edited regions
in the working tree, the diff under review. The real pipeline plans it (diff from
git, guidelines, the built-in reviewers, default chunk budget and group target)
and runs every session on an in-process scripted runtime with the result store on
(SQLite in a temporary cache dir). Then one file is edited once more and the
review is run again: sessions started and tokens spent by the second run are
printed as a percentage of the first, next to the floor no store can go below (one
session per reviewer for the changed file, each with the fixed part of the
prompt). That is repeated for each of the 50 files (the store put back to its
state after the first run each time), and for two kinds of edit: a line changed in
place, and lines added (the file's diff grows).

The baseline is the same second run with the store off (``--no-cache``). What the
small group target costs is printed too: the first run packed to the budget
instead, in tokens and billed with each reviewer's repeated system text as a
provider's cache read.

    python -m bench.incremental [--files N] [--seed N] [--chunk-tokens N] [--group-tokens N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import shutil
import statistics
import subprocess
import sysconfig
import tempfile
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from coordinator.agents import load_roster
from coordinator.config import ReviewSettings
from coordinator.diff.chunking import estimate_tokens
from coordinator.diff.sources import DiffRequest
from coordinator.events import EventSink, Usage, discard
from coordinator.pipeline import PreparedReview, execute_review, prepare_review
from coordinator.result_store import ResultStore
from coordinator.runtimes.base import SessionSpec, TurnResult
from tests.fakes.in_process import InProcessRuntime

PACKAGES = ("app", "app/api", "app/db", "lib", "tests")


class CountingRuntime(InProcessRuntime):
    """Answers at once with one finding on the chunk's first file; counts sessions and tokens."""

    name = "scripted"

    def __init__(self) -> None:
        self.sessions = 0
        self.usage = Usage()
        # System text a reviewer already sent in an earlier session of this run: a
        # prefix that providers caching prompts bill as a cache read.
        self.repeated_system = 0
        self._systems: set[str] = set()

    @asynccontextmanager
    async def open_session(self, spec: SessionSpec, emit: EventSink) -> AsyncIterator[_Session]:
        self.sessions += 1
        if spec.system_prompt in self._systems:
            self.repeated_system += estimate_tokens(spec.system_prompt)
        self._systems.add(spec.system_prompt)
        yield _Session(self, spec)


@dataclasses.dataclass
class _Session:
    runtime: CountingRuntime
    spec: SessionSpec

    async def prompt(self, text: str) -> TurnResult:
        path = self.spec.title.split(": ", 1)[1].split(", ")[0]
        answer = json.dumps(
            {
                "findings": [
                    {
                        "path": path,
                        "line": 1,
                        "severity": "low",
                        "category": self.spec.agent.name,
                        "title": f"{self.spec.agent.name} note",
                        "body": "A remark on this file.",
                        "confidence": 0.5,
                    }
                ]
            }
        )
        system = estimate_tokens(self.spec.system_prompt)
        usage = Usage(estimate_tokens(text) + system, estimate_tokens(answer), 0.0)
        self.runtime.usage = self.runtime.usage + usage
        return TurnResult(answer, None, usage)


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    out = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return out.stdout


def _source_lines() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    lines: list[str] = []
    for path in sorted(root.glob("*.py"))[:60]:
        lines.extend(path.read_text(encoding="utf-8", errors="replace").splitlines())
    return lines


def make_repo(root: Path, files: int, seed: int) -> list[Path]:
    """A committed repository of ``files`` files, then 2-5 edited regions in each."""
    rng = random.Random(seed)
    source = _source_lines()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "bench@example.com")
    git(root, "config", "user.name", "bench")
    paths: list[Path] = []
    for i in range(files):
        package = PACKAGES[i % len(PACKAGES)]
        name = f"test_module_{i}.py" if package == "tests" else f"module_{i}.py"
        path = root / package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        start = rng.randrange(len(source) - 400)
        path.write_text("\n".join(source[start : start + rng.randint(150, 400)]) + "\n")
        paths.append(path)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    for path in paths:
        lines = path.read_text().splitlines()
        for _ in range(rng.randint(2, 5)):
            at = rng.randrange(len(lines))
            new = [
                f"    changed_{rng.randrange(10**6)} = compute({at})"
                for _ in range(rng.randint(1, 12))
            ]
            lines[at : at + rng.randint(0, 4)] = new
        path.write_text("\n".join(lines) + "\n")
    return paths


def edit_in_place(path: Path) -> None:
    """Change the first edited line of the working tree copy: the diff keeps its size."""
    lines = path.read_text().splitlines()
    at = next(i for i, ln in enumerate(lines) if "changed_" in ln)
    lines[at] = lines[at].replace("changed_", "renamed_", 1)
    path.write_text("\n".join(lines) + "\n")


def add_lines(path: Path) -> None:
    """Add six lines next to the first edited line: the file's diff grows."""
    lines = path.read_text().splitlines()
    at = next(i for i, ln in enumerate(lines) if "changed_" in ln)
    lines[at:at] = [f"    extra_{k} = validate(extra_{k - 1})" for k in range(1, 7)]
    path.write_text("\n".join(lines) + "\n")


async def review(
    repo: Path, store: ResultStore | None, settings: ReviewSettings
) -> tuple[CountingRuntime, PreparedReview]:
    agents = load_roster(repo).reviewers()
    prepared = await prepare_review(
        repo, DiffRequest(), agents, settings, runtime_for=lambda a: "scripted"
    )
    runtime = CountingRuntime()
    await execute_review(prepared, {"scripted": runtime}, settings, discard, store=store)
    return runtime, prepared


def run(
    repo: Path, store_path: Path | None, settings: ReviewSettings
) -> tuple[CountingRuntime, PreparedReview]:
    store = ResultStore(store_path) if store_path is not None else None

    async def main() -> tuple[CountingRuntime, PreparedReview]:
        return await review(repo, store, settings)

    try:
        return anyio.run(main)
    finally:
        if store is not None:
            store.close()


def pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--chunk-tokens", type=int, default=ReviewSettings().chunk_tokens)
    parser.add_argument("--group-tokens", type=int, default=ReviewSettings().group_tokens)
    args = parser.parse_args()
    settings = ReviewSettings(
        runtime="scripted",
        concurrency=8,
        chunk_tokens=args.chunk_tokens,
        group_tokens=args.group_tokens,
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        root.mkdir()
        paths = make_repo(root, args.files, args.seed)
        store_path = Path(tmp) / "cache" / "results.sqlite3"
        first, prepared = run(root, store_path, settings)
        reviewers = len(prepared.plan.agents)
        first_tokens = first.usage.tokens_in + first.usage.tokens_out
        diff = prepared.diff
        print(
            f"diff: {len(diff.files)} files, +{diff.additions}/-{diff.deletions} lines; "
            f"{reviewers} reviewers, {len(prepared.plan.assignments)} assignments "
            f"(files grouped up to {args.group_tokens} tokens, at most {args.chunk_tokens})"
        )
        print(
            f"first run:  {first.sessions} sessions, {first_tokens:,} tokens, of which "
            f"{first.repeated_system:,} ({pct(first.repeated_system, first_tokens):.0f}%) "
            "a reviewer's system text sent again (a cache read where prompts are cached)"
        )
        packed, _ = run(root, None, dataclasses.replace(settings, group_tokens=args.chunk_tokens))
        packed_tokens = packed.usage.tokens_in + packed.usage.tokens_out
        print(
            f"first run packed to the budget instead (--group-tokens {args.chunk_tokens}): "
            f"{packed.sessions} sessions, {packed_tokens:,} tokens, "
            f"{packed_tokens - packed.repeated_system:,} of them not sent before"
        )
        # Anthropic bills a cache read at 0.1x input (OpenAI at 0.1-0.5x).
        billed, packed_billed = (
            first_tokens - 0.9 * first.repeated_system,
            packed_tokens - 0.9 * packed.repeated_system,
        )
        print(
            f"grouped first run against packed: {first_tokens / packed_tokens:.2f}x the tokens; "
            f"{billed / packed_billed:.2f}x billed with repeated system text as a cache read "
            "at 0.1x input"
        )
        # Whatever is remembered, a changed file needs one session per reviewer, and each
        # session carries the fixed prompt (reviewer, instructions, output contract).
        fixed = statistics.mean(
            a.estimated_tokens - a.chunk.estimated_tokens for a in prepared.plan.assignments
        )
        print(
            f"floor for one changed file: {reviewers} sessions = "
            f"{pct(reviewers, first.sessions):.1f}% of the first run's; "
            f"fixed prompt ~{fixed:,.0f} tokens per session = "
            f"{pct(reviewers * fixed, first_tokens):.1f}% of its tokens"
        )
        again, _ = run(root, store_path, settings)
        print(f"same diff again: {again.sessions} sessions, {again.usage.tokens_in:,} tokens")
        saved = Path(tmp) / "after-first.sqlite3"
        shutil.copyfile(store_path, saved)
        originals = {p: p.read_text() for p in paths}

        edits: tuple[tuple[str, Callable[[Path], None]], ...] = (
            ("one line changed in place", edit_in_place),
            ("six lines added", add_lines),
        )
        for label, edit in edits:
            sessions: list[float] = []
            tokens: list[float] = []
            for path in paths:
                shutil.copyfile(saved, store_path)
                edit(path)
                second, _ = run(root, store_path, settings)
                path.write_text(originals[path])
                sessions.append(pct(second.sessions, first.sessions))
                tokens.append(pct(second.usage.tokens_in + second.usage.tokens_out, first_tokens))
            print(
                f"one file, {label}, each of the {len(paths)} files in turn: second run "
                f"sessions {statistics.mean(sessions):.1f}% of the first "
                f"(max {max(sessions):.1f}%), tokens {statistics.mean(tokens):.1f}% "
                f"(max {max(tokens):.1f}%)   target <= 5%"
            )
        edit_in_place(paths[len(paths) // 2])
        baseline, _ = run(root, None, settings)
        base_tokens = baseline.usage.tokens_in + baseline.usage.tokens_out
        print(
            f"baseline, store off (--no-cache): {baseline.sessions} sessions "
            f"({pct(baseline.sessions, first.sessions):.0f}%), {base_tokens:,} tokens "
            f"({pct(base_tokens, first_tokens):.0f}%)"
        )


if __name__ == "__main__":
    main()
