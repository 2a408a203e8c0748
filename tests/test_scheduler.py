"""The session runner's schedule: the longest assignments start first, ties in plan order.

A recording runtime notes when each session opens; sessions last until the test
lets them go, so the start order is exact and no test depends on timing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from coordinator.agents import load_roster
from coordinator.diff import parse_unified_diff
from coordinator.diff.model import Chunk
from coordinator.events import Event, EventSink, SessionFinished, Usage
from coordinator.planning import Assignment
from coordinator.result_store import ResultStore
from coordinator.review import ReviewerStatus
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.session import AssignmentOutcome, RunOptions, run_plan
from tests.fakes.in_process import InProcessRuntime

ANSWER = json.dumps({"findings": []})


class Gate:
    """Holds every session until ``wanted`` of them have opened: that first wave shows
    which assignments the runner picked while every slot was free at once."""

    def __init__(self, wanted: int) -> None:
        self.wanted = wanted
        self.opened = 0
        self.release = anyio.Event()

    def open(self) -> None:
        self.opened += 1
        if self.opened >= self.wanted:
            self.release.set()


@dataclass
class RecordingRuntime(InProcessRuntime):
    """Notes the order in which the runner opens sessions."""

    name: str = "scripted"
    max_concurrency: int = 8
    started: list[str] = field(default_factory=list)
    gate: Gate | None = None

    @asynccontextmanager
    async def open_session(self, spec: SessionSpec, emit: EventSink) -> AsyncIterator[_Session]:
        assert self.gate is not None
        self.started.append(spec.key)
        self.gate.open()
        yield _Session(self.gate)


@dataclass
class _Session:
    gate: Gate

    async def prompt(self, text: str) -> TurnResult:
        await self.gate.release.wait()
        return TurnResult(ANSWER, None, Usage(1, 1, 0.0))


def assignments(tokens: Sequence[int], runtime: str = "scripted") -> list[Assignment]:
    agent = load_roster(None).select(["correctness"])[0]
    out = []
    for i, size in enumerate(tokens):
        patch = f"diff --git a/f{i}.py b/f{i}.py\n--- a/f{i}.py\n+++ b/f{i}.py\n@@ -0,0 +1 @@\n+x\n"
        chunk = Chunk(index=i, files=tuple(parse_unified_diff(patch)), estimated_tokens=size)
        key = f"{runtime}-{i}"
        out.append(Assignment(key, agent, runtime, None, chunk, len(tokens), f"p{i}", size))
    return out


def run(
    plan: Sequence[Assignment],
    runtimes: dict[str, RecordingRuntime],
    *,
    concurrency: int = 1,
    longest_first: bool = True,
    store: ResultStore | None = None,
    events: list[Event] | None = None,
) -> list[AssignmentOutcome]:
    """Run the plan; sessions are let go once ``concurrency`` of them have opened."""
    options = RunOptions(
        workdir=Path("."), concurrency=concurrency, longest_first=longest_first, store=store
    )

    async def main() -> list[AssignmentOutcome]:
        gate = Gate(min(concurrency, len(plan) - _remembered(plan, store)))
        for runtime in runtimes.values():
            runtime.gate = gate
        sink = events.append if events is not None else _ignore
        with anyio.fail_after(10):
            return await run_plan(plan, dict(runtimes), sink, options)

    return anyio.run(main)


def _remembered(plan: Sequence[Assignment], store: ResultStore | None) -> int:
    return 0 if store is None else sum(store.recall(a).complete for a in plan)


def _ignore(_: Event) -> None:
    return None


def test_longest_assignment_starts_first() -> None:
    plan = assignments([300, 5_000, 120, 9_000, 700])
    runtime = RecordingRuntime()
    run(plan, {"scripted": runtime})
    assert runtime.started == ["scripted-3", "scripted-1", "scripted-4", "scripted-0", "scripted-2"]


def test_ties_keep_plan_order_and_the_schedule_is_deterministic() -> None:
    sizes = [400, 900, 400, 900, 400, 50, 900]
    orders = []
    for _ in range(3):
        runtime = RecordingRuntime()
        run(assignments(sizes), {"scripted": runtime})
        orders.append(runtime.started)
    expected = [f"scripted-{i}" for i in (1, 3, 6, 0, 2, 4, 5)]
    assert orders == [expected] * 3


def test_the_first_wave_is_the_largest_assignments() -> None:
    plan = assignments([10, 80, 30, 70, 20, 90, 60])
    runtime = RecordingRuntime()
    run(plan, {"scripted": runtime}, concurrency=3)
    assert set(runtime.started[:3]) == {"scripted-5", "scripted-1", "scripted-3"}
    assert runtime.started == ["scripted-5", "scripted-1", "scripted-3"] + [
        f"scripted-{i}" for i in (6, 2, 4, 0)
    ]


def test_plan_order_when_longest_first_is_off() -> None:
    plan = assignments([300, 5_000, 120, 9_000, 700])
    runtime = RecordingRuntime()
    run(plan, {"scripted": runtime}, longest_first=False)
    assert runtime.started == [a.key for a in plan]


def test_outcomes_come_back_in_plan_order_whatever_the_schedule() -> None:
    plan = assignments([1, 50, 20, 999])
    outcomes = run(plan, {"scripted": RecordingRuntime()}, concurrency=2)
    assert [o.assignment.key for o in outcomes] == [a.key for a in plan]
    assert all(o.status is ReviewerStatus.OK for o in outcomes)


def test_remembered_assignments_are_not_scheduled(tmp_path: Path) -> None:
    plan = assignments([100, 900, 500, 300])
    store = ResultStore(tmp_path / "results.sqlite3")
    for done in (plan[1], plan[3]):
        store.remember(done, [], None)
    runtime = RecordingRuntime()
    events: list[Event] = []
    outcomes = run(plan, {"scripted": runtime}, store=store, events=events)
    store.close()
    assert runtime.started == ["scripted-2", "scripted-0"]
    assert [o.status for o in outcomes] == [
        ReviewerStatus.OK,
        ReviewerStatus.CACHED,
        ReviewerStatus.OK,
        ReviewerStatus.CACHED,
    ]
    finished = [e.key for e in events if isinstance(e, SessionFinished)]
    assert sorted(finished) == sorted(a.key for a in plan)


@pytest.mark.parametrize("order", ["a-first", "b-first"])
def test_a_busy_runtime_does_not_hold_a_slot_another_runtime_could_use(order: str) -> None:
    """Two runtimes each allowing one session, two slots: both run at once.

    The largest assignments are both on runtime a; runtime b's must not wait behind
    the second of them while b is idle.
    """
    a_plan = assignments([900, 800], runtime="a")
    b_plan = assignments([100], runtime="b")
    plan = a_plan + b_plan if order == "a-first" else b_plan + a_plan
    a = RecordingRuntime(name="a", max_concurrency=1)
    b = RecordingRuntime(name="b", max_concurrency=1)
    run(plan, {"a": a, "b": b}, concurrency=2)
    assert a.started == ["a-0", "a-1"]
    assert b.started == ["b-0"]
