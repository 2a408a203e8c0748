"""Coordinator overhead: CPU per session and memory over 1,000 scripted sessions.

Sessions run on an in-process scripted runtime: each emits what a real runtime
emits (started, tool calls, text deltas, usage), sleeps its latency and answers
with a JSON object of three findings (a fenced text answer, the common case for
API runtimes). The baseline runs the same sessions on bare anyio tasks under one
CapacityLimiter — same runtime calls, same sleeps, same events — with nothing of
council around them; council's overhead is the CPU difference between the two,
per session. Both are measured in this run, best of ``--repeat``.

Memory: the 1,000-session run is traced (tracemalloc); the printout shows the
memory held after every 200 finished sessions (what the outcomes keep) and after
each of three runs in a row once their outcomes are dropped (flat = no leak).

    python -m bench.overhead [--sessions N] [--concurrency N] [--latency SECONDS]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio

from bench.bigdiff import make_diff
from coordinator.agents import load_roster
from coordinator.diff.model import Diff
from coordinator.diff.parse import parse_unified_diff
from coordinator.events import (
    Event,
    EventSink,
    SessionFinished,
    SessionStarted,
    TextDelta,
    ToolCalled,
    Usage,
    UsageUpdated,
)
from coordinator.planning import Assignment, plan_review
from coordinator.result_store import ResultStore
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.session import RunOptions, run_plan
from tests.fakes.in_process import InProcessRuntime

DELTAS = 5  # text deltas per session, as a streaming runtime sends them


def answer_text(spec: SessionSpec) -> str:
    path = spec.key.split("#")[0] + ".py"
    findings = [
        {
            "path": path,
            "line": 10 + i,
            "end_line": None,
            "severity": "medium",
            "category": "correctness",
            "title": f"Problem {i} in {spec.key}",
            "body": "The value can be None on this path; the call below would raise.",
            "suggestion": None,
            "confidence": 0.7,
            "evidence": "result = compute(value)",
        }
        for i in range(3)
    ]
    return "Here is my review.\n\n```json\n" + json.dumps({"findings": findings}) + "\n```\n"


class ScriptedRuntime(InProcessRuntime):
    """Answers every session after ``latency`` seconds; no model, no I/O."""

    name = "scripted"

    def __init__(self, latency: float, concurrency: int) -> None:
        self.latency = latency
        self.max_concurrency = concurrency

    @asynccontextmanager
    async def open_session(self, spec: SessionSpec, emit: EventSink) -> AsyncIterator[_Session]:
        emit(SessionStarted(spec.key, spec.agent.name, f"ses-{spec.key}"))
        yield _Session(self, spec, emit)


@dataclasses.dataclass
class _Session:
    runtime: ScriptedRuntime
    spec: SessionSpec
    emit: EventSink

    async def prompt(self, text: str) -> TurnResult:
        key, agent = self.spec.key, self.spec.agent.name
        self.emit(ToolCalled(key, agent, "read", "app.py", "completed"))
        self.emit(ToolCalled(key, agent, "grep", "compute", "completed"))
        await anyio.sleep(self.runtime.latency)
        answer = answer_text(self.spec)
        step = len(answer) // DELTAS + 1
        for i in range(0, len(answer), step):
            self.emit(TextDelta(key, agent, answer[i : i + step]))
        usage = Usage(len(text) // 4, len(answer) // 4, 0.0)
        self.emit(UsageUpdated(key, agent, usage))
        return TurnResult(answer, None, usage)


def make_assignments(count: int) -> list[Assignment]:
    """``count`` real assignments: built-in reviewers over chunks of a generated diff."""
    agents = load_roster(None).reviewers()
    files = parse_unified_diff(make_diff(count * 40, seed=5))
    plan = plan_review(
        Diff(files, source="generated"),
        agents,
        chunk_tokens=2_000,
        runtime_for=lambda a: "scripted",
        model_for=lambda a: None,
        guidelines={},
    )
    if len(plan.assignments) < count:
        raise SystemExit(f"the generated diff gave only {len(plan.assignments)} assignments")
    return list(plan.assignments[:count])


class Sink:
    """The front end: counts events, and calls ``on_finished`` as sessions end."""

    def __init__(self, on_finished: Callable[[int], None] | None = None) -> None:
        self.events = 0
        self.finished = 0
        self.on_finished = on_finished

    def __call__(self, event: Event) -> None:
        self.events += 1
        if isinstance(event, SessionFinished):
            self.finished += 1
            if self.on_finished is not None:
                self.on_finished(self.finished)


def run_council(
    assignments: list[Assignment],
    runtime: ScriptedRuntime,
    sink: Sink,
    concurrency: int,
    store: ResultStore | None = None,
) -> int:
    options = RunOptions(workdir=Path("."), concurrency=concurrency, store=store)

    async def main() -> int:
        outcomes = await run_plan(assignments, {"scripted": runtime}, sink, options)
        return sum(len(o.findings) for o in outcomes)

    return anyio.run(main)


def run_bare(
    assignments: list[Assignment], runtime: ScriptedRuntime, sink: Sink, concurrency: int
) -> int:
    async def one(a: Assignment, limiter: anyio.CapacityLimiter) -> None:
        spec = SessionSpec(a.key, a.title, a.agent, a.model, Path("."), {})
        async with limiter, runtime.open_session(spec, sink) as session:
            await session.prompt(a.prompt)

    async def main() -> int:
        limiter = anyio.CapacityLimiter(concurrency)
        async with anyio.create_task_group() as tg:
            for a in assignments:
                tg.start_soon(one, a, limiter)
        return 0

    return anyio.run(main)


def cpu_of(run: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        started = time.process_time()
        run()
        best = min(best, time.process_time() - started)
    return best


def kib(n: float) -> str:
    return f"{n / 1024:,.0f} KiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.002)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, conc = args.sessions, args.concurrency

    assignments = make_assignments(n)
    runtime = ScriptedRuntime(args.latency, conc)
    prompt_kib = sum(len(a.prompt) for a in assignments) / n / 1024
    print(
        f"overhead: {n} scripted sessions ({prompt_kib:.1f} KiB prompts, 3 findings each), "
        f"concurrency {conc}, latency {args.latency * 1000:g} ms"
    )

    bare = cpu_of(lambda: run_bare(assignments, runtime, Sink(), conc), args.repeat)
    ours = cpu_of(lambda: run_council(assignments, runtime, Sink(), conc), args.repeat)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "results.sqlite3"

        def with_store() -> None:
            path.unlink(missing_ok=True)  # every repeat starts empty: all misses, all writes
            store = ResultStore(path)
            try:
                run_council(assignments, runtime, Sink(), conc, store)
            finally:
                store.close()

        stored = cpu_of(with_store, args.repeat)
        store = ResultStore(path)
        remembered = cpu_of(lambda: run_council(assignments, runtime, Sink(), conc, store), 1)
        store.close()
    print(f"CPU  bare anyio tasks (baseline)   {bare:7.3f}s  {bare / n * 1000:6.3f} ms/session")
    for label, cpu in (
        ("council run_plan", ours),
        ("council + result store (miss)", stored),
        ("council, all from the store", remembered),
    ):
        extra = (cpu - bare) / n * 1000
        print(
            f"CPU  {label:<30} {cpu:7.3f}s  {cpu / n * 1000:6.3f} ms/session  "
            f"overhead {extra:6.3f} ms/session ({cpu / bare:.2f}x baseline; target < 5 ms)"
        )

    marks: list[str] = []

    def mark(finished: int) -> None:
        if finished % (n // 5) == 0:
            marks.append(f"{finished}: {kib(tracemalloc.get_traced_memory()[0])}")

    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    run_council(assignments, runtime, Sink(mark), conc)
    peak = tracemalloc.get_traced_memory()[1] - start
    after = []
    for _ in range(3):
        run_council(assignments, runtime, Sink(), conc)
        gc.collect()
        after.append(kib(tracemalloc.get_traced_memory()[0] - start))
    tracemalloc.stop()
    print(f"mem  held while running, by sessions finished: {', '.join(marks)}")
    print(f"mem  peak during the run {kib(peak)} ({peak / n / 1024:.1f} KiB/session)")
    print(f"mem  held after each of 3 more runs (outcomes dropped): {', '.join(after)}")


if __name__ == "__main__":
    main()
