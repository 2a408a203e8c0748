"""The session runner's fault handling, driven through an in-process scripted runtime."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from coordinator.agents import load_roster
from coordinator.diff import parse_unified_diff
from coordinator.diff.model import Diff
from coordinator.errors import RetryableSessionError, SessionError
from coordinator.events import Event, SessionFinished, SessionRetrying, Usage
from coordinator.planning import Plan, plan_review
from coordinator.review import ReviewerStatus
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.session import (
    AssignmentOutcome,
    RetryPolicy,
    RunOptions,
    SessionControls,
    run_plan,
)
from tests.fakes.in_process import InProcessRuntime

PATCH = "".join(
    f"diff --git a/f{i}.py b/f{i}.py\n--- a/f{i}.py\n+++ b/f{i}.py\n@@ -1 +1,2 @@\n x = {i}\n+y = {i}\n"
    for i in range(3)
)
ANSWER = json.dumps(
    {
        "findings": [
            {
                "path": "f0.py",
                "line": 2,
                "severity": "low",
                "category": "c",
                "title": "t",
                "body": "b",
                "confidence": 0.5,
            }
        ]
    }
)

Behaviour = Callable[[SessionSpec, int], TurnResult]  # (spec, attempt) -> answer, or raise


def answer(text: str = ANSWER, cost: float = 0.01) -> TurnResult:
    return TurnResult(text=text, structured=None, usage=Usage(100, 10, cost))


@dataclass
class ScriptedRuntime(InProcessRuntime):
    """A Runtime whose sessions follow ``behaviour``; it records concurrency and aborts."""

    behaviour: Behaviour
    name: str = "scripted"
    max_concurrency: int = 8
    delay: float = 0.0
    attempts: dict[str, int] = field(default_factory=dict)
    running: int = 0
    peak: int = 0
    aborted: list[str] = field(default_factory=list)

    def default_model(self) -> str | None:
        return "fake/m"

    @asynccontextmanager
    async def open_session(
        self, spec: SessionSpec, emit: Callable[[Event], None]
    ) -> AsyncIterator[_Session]:
        self.attempts[spec.key] = self.attempts.get(spec.key, 0) + 1
        self.running += 1
        self.peak = max(self.peak, self.running)
        finished = False
        try:
            yield _Session(self, spec, self.attempts[spec.key])
            finished = True
        finally:
            self.running -= 1
            if not finished:
                self.aborted.append(spec.key)


@dataclass
class _Session:
    runtime: ScriptedRuntime
    spec: SessionSpec
    attempt: int

    async def prompt(self, text: str) -> TurnResult:
        await anyio.sleep(self.runtime.delay)
        return self.runtime.behaviour(self.spec, self.attempt)


def make_plan(agents: list[str], repeat: int = 1) -> Plan:
    files = parse_unified_diff(PATCH)
    diff = Diff(files=files, source="test")
    roster = load_roster(None)
    plan = plan_review(
        diff,
        roster.select(agents),
        chunk_tokens=10_000,
        runtime_for=lambda a: "scripted",
        model_for=lambda a: "fake/m",
        guidelines={},
    )
    if repeat == 1:
        return plan
    # Many assignments: the same chunk under distinct keys.
    many = tuple(
        a.__class__(**{**a.__dict__, "key": f"{a.key}-{i}"})
        for i in range(repeat)
        for a in plan.assignments
    )
    return Plan(diff=plan.diff, agents=plan.agents, assignments=many, unreviewed=plan.unreviewed)


def run(
    plan: Plan, runtime: ScriptedRuntime, **options: object
) -> tuple[list[AssignmentOutcome], list[Event]]:
    events: list[Event] = []
    opts = RunOptions(workdir=Path("."), rand=lambda: 0.5, **options)  # type: ignore[arg-type]

    async def main() -> list[AssignmentOutcome]:
        return await run_plan(plan.assignments, {"scripted": runtime}, events.append, opts)

    return anyio.run(main), events


def test_retry_honours_retry_after_then_succeeds() -> None:
    def flaky(spec: SessionSpec, attempt: int) -> TurnResult:
        if attempt == 1:
            raise RetryableSessionError("HTTP 429 rate limited", retry_after=0.3)
        return answer()

    runtime = ScriptedRuntime(flaky)
    started = time.monotonic()
    (outcome,), events = run(make_plan(["security"]), runtime)
    assert outcome.status is ReviewerStatus.OK
    assert outcome.retries == 1
    assert len(outcome.findings) == 1
    retries = [e for e in events if isinstance(e, SessionRetrying)]
    assert [(r.attempt, r.delay_s) for r in retries] == [(1, 0.3)]
    assert time.monotonic() - started >= 0.3


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=5.0, jitter=0.25)
    assert [policy.delay(n, None, lambda: 0.5) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert policy.delay(2, None, lambda: 0.0) == 1.5
    assert policy.delay(2, None, lambda: 1.0) == 2.5
    assert policy.delay(1, 99.0, lambda: 0.5) == 5.0  # a huge Retry-After is capped too


def test_retries_are_bounded_and_reported() -> None:
    def always_500(spec: SessionSpec, attempt: int) -> TurnResult:
        raise RetryableSessionError("HTTP 500 from upstream", retry_after=0.01)

    runtime = ScriptedRuntime(always_500)
    (outcome,), _ = run(make_plan(["security"]), runtime, retry=RetryPolicy(max_attempts=3))
    assert outcome.status is ReviewerStatus.FAILED
    assert runtime.attempts == {"security#1": 3}
    assert outcome.retries == 2
    assert "gave up after 3 attempts" in (outcome.error or "")


def test_non_retryable_errors_fail_at_once_and_others_keep_their_findings() -> None:
    def by_agent(spec: SessionSpec, attempt: int) -> TurnResult:
        if spec.agent.name == "security":
            raise SessionError("APIError: invalid key (HTTP 401)")
        return answer()

    runtime = ScriptedRuntime(by_agent)
    outcomes, _ = run(make_plan(["security", "tests"]), runtime)
    by = {o.assignment.agent.name: o for o in outcomes}
    assert by["security"].status is ReviewerStatus.FAILED
    assert runtime.attempts["security#1"] == 1
    assert by["tests"].status is ReviewerStatus.OK
    assert len(by["tests"].findings) == 1


def test_timeout_marks_the_session_and_aborts_it() -> None:
    runtime = ScriptedRuntime(lambda s, a: answer(), delay=5)
    started = time.monotonic()
    (outcome,), _ = run(make_plan(["security"]), runtime, timeout_s=0.2)
    assert outcome.status is ReviewerStatus.TIMEOUT
    assert outcome.error == "timed out after 0.2s"
    assert runtime.aborted == ["security#1"]
    assert time.monotonic() - started < 2


def test_invalid_output_gets_one_repair_turn_then_fails_with_raw_text() -> None:
    runtime = ScriptedRuntime(lambda s, a: answer("I refuse to answer in JSON"))
    (outcome,), _ = run(make_plan(["security"]), runtime)
    assert outcome.status is ReviewerStatus.FAILED
    assert outcome.repaired
    assert outcome.raw_text == "I refuse to answer in JSON"
    assert "invalid output after one repair turn" in (outcome.error or "")


def test_budget_stops_new_sessions_and_names_what_was_skipped() -> None:
    runtime = ScriptedRuntime(lambda s, a: answer(cost=0.4), max_concurrency=1)
    outcomes, _ = run(make_plan(["security", "tests", "performance"]), runtime, budget_usd=1.0)
    statuses = [o.status for o in outcomes]
    assert statuses == [ReviewerStatus.OK, ReviewerStatus.OK, ReviewerStatus.SKIPPED]
    assert outcomes[2].over_budget
    assert "budget" in (outcomes[2].error or "")


def test_per_runtime_limit_bounds_concurrency_over_hundreds_of_sessions() -> None:
    runtime = ScriptedRuntime(lambda s, a: answer(), max_concurrency=3, delay=0.01)
    outcomes, events = run(make_plan(["security"], repeat=300), runtime, concurrency=50)
    assert len(outcomes) == 300
    assert all(o.status is ReviewerStatus.OK for o in outcomes)
    assert runtime.peak == 3
    assert sum(isinstance(e, SessionFinished) for e in events) == 300


def test_stop_cancels_running_sessions_and_returns_partial_outcomes() -> None:
    def slow_security(spec: SessionSpec, attempt: int) -> TurnResult:
        return answer()

    runtime = ScriptedRuntime(slow_security)
    plan = make_plan(["security", "tests"])
    events: list[Event] = []

    async def main() -> list[AssignmentOutcome]:
        stop = anyio.Event()

        async def slow_prompt_then_stop() -> None:
            await anyio.sleep(0.3)
            stop.set()

        runtime.delay = 0.0
        original = runtime.behaviour

        def gate(spec: SessionSpec, attempt: int) -> TurnResult:
            return original(spec, attempt)

        runtime.behaviour = gate
        async with anyio.create_task_group() as tg:
            tg.start_soon(slow_prompt_then_stop)
            runtime.delay = 0.0
            result = await run_plan(
                plan.assignments[:1],
                {"scripted": runtime},
                events.append,
                RunOptions(workdir=Path(".")),
            )
            runtime.delay = 10.0
            result += await run_plan(
                plan.assignments[1:],
                {"scripted": runtime},
                events.append,
                RunOptions(workdir=Path(".")),
                stop=stop,
            )
        return result

    started = time.monotonic()
    done, cancelled = anyio.run(main)
    assert time.monotonic() - started < 3
    assert done.status is ReviewerStatus.OK
    assert cancelled.status is ReviewerStatus.CANCELLED
    assert cancelled.error == "cancelled before it finished"
    assert runtime.aborted == ["tests#1"]


@pytest.mark.parametrize("attempts", [1, 2])
def test_usage_of_failed_attempts_is_still_counted(attempts: int) -> None:
    def costly_then_ok(spec: SessionSpec, attempt: int) -> TurnResult:
        if attempt < attempts:
            raise RetryableSessionError("HTTP 503", retry_after=0.0)
        return answer(cost=0.02)

    (outcome,), _ = run(make_plan(["security"]), ScriptedRuntime(costly_then_ok))
    assert outcome.status is ReviewerStatus.OK
    assert outcome.usage.cost_usd == pytest.approx(0.02)


def test_controls_cancel_one_assignment_and_leave_the_others() -> None:
    runtime = ScriptedRuntime(lambda s, a: answer(), delay=0.5)
    plan = make_plan(["security", "tests"])
    controls = SessionControls()

    async def main() -> list[AssignmentOutcome]:
        async with anyio.create_task_group() as tg:

            async def cancel_security_soon() -> None:
                while "security#1" not in controls.running:  # noqa: ASYNC110 - polling runner state
                    await anyio.sleep(0.01)
                controls.cancel("security#1")

            tg.start_soon(cancel_security_soon)
            return await run_plan(
                plan.assignments,
                {"scripted": runtime},
                lambda e: None,
                RunOptions(workdir=Path(".")),
                controls=controls,
            )

    security, tests = anyio.run(main)
    assert security.status is ReviewerStatus.CANCELLED
    assert tests.status is ReviewerStatus.OK
    assert runtime.aborted == ["security#1"]
