"""Run a Plan: every assignment as one runtime session, bounded, timed, and never fatal.

A session that fails is reported as failed with its reason (and raw text when
there was one); the other sessions go on. Invalid answers get exactly one repair
turn in the same session.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from coordinator.answers import ANSWER_SCHEMA, AnswerError, parse_answer
from coordinator.errors import SessionError
from coordinator.events import EventSink, SessionFinished, SessionQueued, SessionRepairing, Usage
from coordinator.findings import Finding
from coordinator.planning import DEFAULT_MAX_FINDINGS, Assignment
from coordinator.prompts import render_repair_prompt
from coordinator.review import ReviewerStatus
from coordinator.runtimes.base import Runtime, SessionSpec, ToolCall


@dataclass
class AssignmentOutcome:
    assignment: Assignment
    status: ReviewerStatus = ReviewerStatus.CANCELLED
    findings: list[Finding] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    duration_s: float = 0.0
    error: str | None = None
    raw_text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    model: str | None = None
    repaired: bool = False


@dataclass(frozen=True)
class RunOptions:
    workdir: Path
    concurrency: int = 8
    timeout_s: float = 600.0


async def run_plan(
    assignments: Sequence[Assignment],
    runtimes: Mapping[str, Runtime],
    emit: EventSink,
    options: RunOptions,
    stop: anyio.Event | None = None,
) -> list[AssignmentOutcome]:
    """Run every assignment; outcomes come back in plan order, whatever happened.

    Cancelling the caller's scope marks unfinished sessions ``cancelled`` (each
    session aborts on the far side as its context exits) and still returns.
    """
    outcomes = [AssignmentOutcome(a, model=a.model) for a in assignments]
    for a in assignments:
        emit(
            SessionQueued(
                a.key, a.agent.name, a.runtime, a.chunk.index, a.chunk_count, a.chunk.paths
            )
        )
    limiter = anyio.CapacityLimiter(options.concurrency)
    try:
        async with anyio.create_task_group() as watcher:
            async with anyio.create_task_group() as sessions:
                if stop is not None:
                    watcher.start_soon(_cancel_when_set, stop, sessions.cancel_scope)
                for outcome in outcomes:
                    sessions.start_soon(_run_one, outcome, runtimes, emit, options, limiter)
            watcher.cancel_scope.cancel()
    finally:
        for outcome in outcomes:
            if outcome.status is ReviewerStatus.CANCELLED and outcome.error is None:
                outcome.error = "cancelled before it finished"
    return outcomes


async def _cancel_when_set(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    await stop.wait()
    scope.cancel()


async def _run_one(
    outcome: AssignmentOutcome,
    runtimes: Mapping[str, Runtime],
    emit: EventSink,
    options: RunOptions,
    limiter: anyio.CapacityLimiter,
) -> None:
    assignment = outcome.assignment
    started = time.monotonic()
    try:
        async with limiter:
            started = time.monotonic()
            with anyio.fail_after(options.timeout_s):
                await _converse(outcome, runtimes[assignment.runtime], emit, options.workdir)
    except TimeoutError:
        outcome.status = ReviewerStatus.TIMEOUT
        outcome.error = f"timed out after {options.timeout_s:g}s"
    except SessionError as exc:
        outcome.status = ReviewerStatus.FAILED
        outcome.error = str(exc)
        outcome.raw_text = outcome.raw_text or exc.raw_text
    finally:
        outcome.duration_s = round(time.monotonic() - started, 3)
        emit(
            SessionFinished(
                assignment.key,
                assignment.agent.name,
                outcome.status,
                len(outcome.findings),
                outcome.usage,
                outcome.duration_s,
                outcome.error,
            )
        )


async def _converse(
    outcome: AssignmentOutcome, runtime: Runtime, emit: EventSink, workdir: Path
) -> None:
    assignment = outcome.assignment
    max_findings = assignment.agent.max_findings or DEFAULT_MAX_FINDINGS
    spec = SessionSpec(
        key=assignment.key,
        title=assignment.title,
        agent=assignment.agent,
        model=assignment.model,
        workdir=workdir,
        output_schema=ANSWER_SCHEMA,
    )
    async with runtime.open_session(spec, emit) as session:
        turn = await session.prompt(assignment.prompt)
        outcome.usage, outcome.tool_calls, outcome.model = turn.usage, turn.tool_calls, turn.model
        try:
            answer = parse_answer(turn.text, turn.structured)
        except AnswerError as first:
            outcome.repaired = True
            emit(SessionRepairing(assignment.key, assignment.agent.name, first.errors))
            repair = await session.prompt(render_repair_prompt(first.errors, max_findings))
            outcome.usage, outcome.tool_calls = repair.usage, turn.tool_calls + repair.tool_calls
            try:
                answer = parse_answer(repair.text, repair.structured)
            except AnswerError as second:
                raise SessionError(
                    f"invalid output after one repair turn:\n{second.errors}",
                    raw_text=repair.text or turn.text,
                ) from None
    outcome.findings = list(answer.findings)
    outcome.status = ReviewerStatus.OK
