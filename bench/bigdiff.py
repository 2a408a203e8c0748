"""Big diffs: parse, plan and chunk a 1,000,000-line diff; merge 100,000 findings.

The diff is generated (seeded) from lines of the Python standard library's own
sources, so line lengths and characters are those of real code: ~2,000 files of
5-40 hunks each, every hunk three lines of context around deletions and additions.

- parse: ``coordinator.diff.parse_unified_diff`` against the ``unidiff`` library
  (``pip install -e '.[bench]'``) on the same text, best of ``--repeat`` runs each;
  peak memory of each parse (tracemalloc, separate runs) against the diff's size.
- plan: ``plan_review`` with the built-in reviewers and the default chunk budget
  and group target (which chunks the diff and renders every prompt), on the
  freshly parsed diff.
- merge: ``merge_findings`` over 100,000 reported findings (the line map built
  first, timed apart), spread over the diff's files, then all on one big file,
  then crowded onto 200 lines of one file.

    python -m bench.bigdiff [--lines N] [--findings N] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import random
import sysconfig
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coordinator.agents import load_roster
from coordinator.config import ReviewSettings
from coordinator.diff.linemap import LineMap
from coordinator.diff.model import Diff, DiffFile
from coordinator.diff.parse import parse_unified_diff
from coordinator.findings import Finding, ReportedFinding
from coordinator.merge import MergeOptions, merge_findings
from coordinator.planning import plan_review

REVIEWERS = ("correctness", "security", "performance", "tests", "maintainability", "guidelines")
# (category, title variants): reviewers word one problem differently.
PROBLEMS = (
    ("security", ("SQL query built from user input", "SQL injection via string formatting")),
    ("security", ("Hard-coded credential", "Secret committed in source")),
    ("security", ("Path traversal in file name", "User-controlled path reaches open()")),
    ("correctness", ("Off-by-one in loop bound", "Loop stops one element early")),
    ("correctness", ("Possible None dereference", "Value may be None here")),
    ("correctness", ("Exception swallowed silently", "Bare except hides errors")),
    ("correctness", ("Missing await on coroutine", "Coroutine is never awaited")),
    ("correctness", ("Race on shared counter", "Unsynchronised update of shared state")),
    ("performance", ("Quadratic loop over list", "Nested scan makes this O(n^2)")),
    ("performance", ("Query inside a loop", "N+1 database queries")),
    ("performance", ("File read on every call", "Repeated I/O could be cached")),
    ("tests", ("Missing test for the error path", "Error branch is untested")),
    ("tests", ("Test asserts nothing", "Assertion missing in test")),
    ("maintainability", ("Mutable default argument", "Default list shared between calls")),
    ("maintainability", ("Function too long", "Split this function")),
    ("maintainability", ("Magic number", "Unnamed constant")),
    ("guidelines", ("Public function lacks a docstring", "Docstring required by AGENTS.md")),
    ("guidelines", ("Print used instead of logging", "Use the logger, not print")),
)
SEVERITIES = ("critical", "high", "high", "medium", "medium", "medium", "low", "info")


# --------------------------------------------------------------------------- inputs


def _source_lines() -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    lines: list[str] = []
    for path in sorted(root.glob("*.py")):
        text = path.read_text(encoding="utf-8", errors="replace")
        lines.extend(ln for ln in text.split("\n") if "\r" not in ln)
        if len(lines) > 200_000:
            break
    return lines


def make_diff(total_lines: int, seed: int) -> str:
    rng = random.Random(seed)
    source = _source_lines()
    at = rng.randrange(len(source))

    def take() -> str:
        nonlocal at
        at = (at + 1) % len(source)
        return source[at]

    parts: list[str] = []
    written = 0
    index = 0
    while written < total_lines:
        index += 1
        path = f"src/pkg{index % 37}/module_{index}.py"
        parts.append(
            f"diff --git a/{path} b/{path}\nindex 1234567..89abcde 100644\n"
            f"--- a/{path}\n+++ b/{path}\n"
        )
        written += 4
        old = new = 1
        for _ in range(rng.randint(5, 40)):
            gap = rng.randint(5, 200)
            old, new = old + gap, new + gap
            deleted = [take() for _ in range(rng.randint(0, 12))]
            added = [take() for _ in range(rng.randint(1, 20))]
            body = (
                [f" {take()}" for _ in range(3)]
                + [f"-{ln}" for ln in deleted]
                + [f"+{ln}" for ln in added]
                + [f" {take()}" for _ in range(3)]
            )
            old_count, new_count = 6 + len(deleted), 6 + len(added)
            parts.append(f"@@ -{old},{old_count} +{new},{new_count} @@ def f():\n")
            parts.append("\n".join(body) + "\n")
            written += 1 + len(body)
            old, new = old + old_count, new + new_count
    return "".join(parts)


def make_findings(
    targets: list[tuple[str, int, int]], count: int, seed: int
) -> list[ReportedFinding]:
    """``count`` reports: each problem seen by 1-3 reviewers, on or next to changed lines."""
    rng = random.Random(seed)
    out: list[ReportedFinding] = []
    while len(out) < count:
        path, start, length = rng.choice(targets)
        line = start + rng.randrange(length)
        category, titles = rng.choice(PROBLEMS)
        severity = rng.choice(SEVERITIES)
        for reviewer in rng.sample(REVIEWERS, rng.choice((1, 1, 1, 2, 2, 3))):
            title = rng.choice(titles)
            name = f"item_{rng.randrange(10_000)}"
            finding = Finding(
                path=path,
                line=max(1, line + rng.choice((0, 0, 0, 1, -1, 2))),
                end_line=line + rng.choice((0, 0, 3)),
                severity=severity,
                category=category,
                title=title,
                body=f"{title}: `{name}` at this point. Fix it before merging; see {path}.",
                confidence=round(rng.uniform(0.3, 0.95), 2),
                evidence=f"{name} = compute({name})",
            )
            out.append(ReportedFinding(reviewer=reviewer, finding=finding))
    return out[:count]


def hunk_targets(files: tuple[DiffFile, ...]) -> list[tuple[str, int, int]]:
    return [(f.path, h.new_start, h.new_lines) for f in files for h in f.hunks if h.new_lines]


def one_file_diff(lines: int) -> tuple[DiffFile, ...]:
    body = "".join(f"+value_{i} = compute({i})  # generated line\n" for i in range(lines))
    return parse_unified_diff(
        f"diff --git a/big.py b/big.py\nnew file mode 100644\n--- /dev/null\n+++ b/big.py\n"
        f"@@ -0,0 +1,{lines} @@\n{body}"
    )


# --------------------------------------------------------------------------- measuring


def best_time(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def peak_bytes(run: Callable[[], Any]) -> int:
    """Peak memory allocated while ``run`` runs (its result kept until the end)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = run()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--findings", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import unidiff  # the baseline; optional extra "bench"

    text = make_diff(args.lines, args.seed)
    size = len(text.encode("utf-8"))
    print(
        f"diff: {text.count(chr(10)):,} lines, {mib(size)}, "
        f"{text.count('diff --git '):,} files, {text.count(chr(10) + '@@ '):,} hunks"
    )

    ours = best_time(lambda: parse_unified_diff(text), args.repeat)
    theirs = best_time(lambda: unidiff.PatchSet(text), args.repeat)
    print(f"parse  council {ours:6.3f}s   unidiff {unidiff.VERSION} {theirs:6.3f}s")
    print(f"       council is {theirs / ours:.1f}x faster (target >= 2x)")
    our_peak = peak_bytes(lambda: parse_unified_diff(text))
    their_peak = peak_bytes(lambda: unidiff.PatchSet(text))
    print(
        f"peak   council {mib(our_peak)} = {our_peak / size:.2f}x the diff (target < 3x)   "
        f"unidiff {mib(their_peak)} = {their_peak / size:.2f}x"
    )

    files = parse_unified_diff(text)
    diff = Diff(files, source="generated diff")
    agents = load_roster(None).reviewers()
    defaults = ReviewSettings()
    plan_s, plan = timed(
        lambda: plan_review(
            diff,
            agents,
            chunk_tokens=defaults.chunk_tokens,
            group_tokens=defaults.group_tokens,
            runtime_for=lambda a: "scripted",
            model_for=lambda a: None,
            guidelines={},
        )
    )
    chunks = len({a.chunk.index for a in plan.assignments})
    print(
        f"plan   {plan_s:6.3f}s for {len(agents)} reviewers x {chunks} chunks = "
        f"{len(plan.assignments)} prompts rendered (target < 2s)"
    )

    map_s, line_map = timed(lambda: LineMap(files))
    reported = make_findings(hunk_targets(files), args.findings, args.seed)
    merge_s, merged = timed(lambda: merge_findings(reported, line_map, MergeOptions()))
    print(
        f"merge  {merge_s:6.3f}s for {len(reported):,} findings on {len(files):,} files -> "
        f"{len(merged.findings):,} merged, {len(merged.rejected):,} rejected "
        f"(line map {map_s:.3f}s; target < 2s)"
    )

    big = one_file_diff(200_000)
    big_map = LineMap(big)
    on_one = make_findings([("big.py", 1, 200_000)], args.findings, args.seed)
    one_s, merged = timed(lambda: merge_findings(on_one, big_map, MergeOptions()))
    print(
        f"merge  {one_s:6.3f}s for {len(on_one):,} findings on one 200,000-line file -> "
        f"{len(merged.findings):,} merged"
    )
    crowded = make_findings([("big.py", 1, 200)], args.findings // 10, args.seed)
    crowd_s, merged = timed(lambda: merge_findings(crowded, big_map, MergeOptions()))
    print(
        f"merge  {crowd_s:6.3f}s for {len(crowded):,} findings crowded onto 200 lines -> "
        f"{len(merged.findings):,} merged"
    )


if __name__ == "__main__":
    main()
