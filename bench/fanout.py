"""Fan-out makespan: how close the session runner gets to the ideal schedule.

8 reviewers x 16 chunks of varied size, concurrency 8, scripted sessions whose
latency grows with the assignment's size (plus noise, as real models vary). The
ideal lower bound is max(longest session, total session time / concurrency).
Prints wall / ideal for longest-first (council's schedule) and for the naive
plan-order schedule, both measured in this run.

    python -m bench.fanout [--seed N] [--scale SECONDS_PER_KTOKEN]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from coordinator.agents import load_roster
from coordinator.diff.model import Chunk
from coordinator.events import Event, Usage
from coordinator.planning import Assignment
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.session import RunOptions, run_plan
from tests.fakes.in_process import InProcessRuntime

REVIEWERS, CHUNKS, CONCURRENCY = 8, 16, 8


class LatencyRuntime(InProcessRuntime):
    """Answers each session after its scripted latency; no model, no I/O."""

    name = "scripted"
    max_concurrency = CONCURRENCY

    def __init__(self, latencies: dict[str, float]) -> None:
        self.latencies = latencies

    @asynccontextmanager
    async def open_session(self, spec: SessionSpec, emit: object) -> AsyncIterator[_Session]:
        yield _Session(self.latencies[spec.key])


@dataclasses.dataclass
class _Session:
    latency: float

    async def prompt(self, text: str) -> TurnResult:
        await anyio.sleep(self.latency)
        return TurnResult('{"findings": []}', None, Usage(1, 1, 0.0))


def make_assignments(seed: int, scale: float) -> tuple[list[Assignment], dict[str, float]]:
    rng = random.Random(seed)
    agents = load_roster(None).reviewers()
    agents = (agents * 2)[:REVIEWERS]
    assignments, latencies = [], {}
    for r, agent in enumerate(agents):
        for c in range(CHUNKS):
            # Chunk sizes are skewed, as in real diffs: most small, a few large.
            tokens = int(rng.paretovariate(1.5) * 1500)
            key = f"{agent.name}-{r}#{c + 1}"
            chunk = Chunk(index=c, files=(), estimated_tokens=tokens, paths=(f"f{c}.py",))
            assignments.append(
                Assignment(key, agent, "scripted", None, chunk, CHUNKS, "prompt", tokens)
            )
            latencies[key] = scale * tokens / 1000 * rng.uniform(0.85, 1.15)
    rng.shuffle(assignments)  # plan order carries no information about size
    return assignments, latencies


def measure(
    assignments: list[Assignment], latencies: dict[str, float], longest_first: bool
) -> float:
    runtime = LatencyRuntime(latencies)
    options = RunOptions(
        workdir=Path("."), concurrency=CONCURRENCY, longest_first=longest_first, timeout_s=600
    )

    def ignore(_: Event) -> None:
        return None

    async def main() -> None:
        await run_plan(assignments, {"scripted": runtime}, ignore, options)

    started = time.perf_counter()
    anyio.run(main)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=float, default=0.08, help="seconds per 1k tokens")
    args = parser.parse_args()
    assignments, latencies = make_assignments(args.seed, args.scale)
    total, longest = sum(latencies.values()), max(latencies.values())
    ideal = max(longest, total / CONCURRENCY)
    print(
        f"fan-out: {len(assignments)} sessions ({REVIEWERS} reviewers x {CHUNKS} chunks), "
        f"concurrency {CONCURRENCY}, total session time {total:.2f}s, longest {longest:.2f}s"
    )
    print(f"ideal lower bound            {ideal:7.3f}s")
    for label, longest_first in (
        ("longest-first (council)", True),
        ("in plan order (baseline)", False),
    ):
        wall = measure(assignments, latencies, longest_first)
        print(f"{label:<28} {wall:7.3f}s  wall/ideal = {wall / ideal:.3f}")


if __name__ == "__main__":
    main()
