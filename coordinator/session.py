"""Run a Plan: every assignment as one runtime session, bounded, timed, retried, never fatal.

Fault handling lives here, around any runtime, not inside each: per-session
timeouts, retries with exponential backoff and jitter on retryable failures
(honouring Retry-After), one global and one per-runtime concurrency limit, and a
cost budget that stops new sessions from starting. A session that fails is
reported as failed with its reason (and its raw text when there was one); the
others go on. Invalid answers get exactly one repair turn in the same session.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from coordinator.answers import ANSWER_SCHEMA, AnswerError, parse_answer
from coordinator.errors import RetryableSessionError, SessionError
from coordinator.events import (
    EventSink,
    SessionFinished,
    SessionQueued,
    SessionRepairing,
    SessionRetrying,
    Usage,
)
from coordinator.findings import Finding
from coordinator.planning import DEFAULT_MAX_FINDINGS, Assignment, narrow
from coordinator.prompts import new_nonce, render_repair_prompt
from coordinator.result_store import ResultStore
from coordinator.review import ReviewerStatus
from coordinator.runtimes.base import Runtime, SessionSpec, ToolCall

DEFAULT_RUNTIME_CONCURRENCY = 8
RAW_TEXT_LIMIT = 2000  # characters of an invalid answer kept in the reviewer's error


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
    retries: int = 0
    over_budget: bool = False
    # Findings the store gave back for files of this chunk that were not sent again
    # (``assignment`` then holds only the files that were); part of ``findings`` once
    # the session has settled.
    recalled: list[Finding] = field(default_factory=list)

    def _settle(self) -> None:
        if self.recalled:
            self.findings = self.recalled + self.findings
            self.recalled = []


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter; a server's Retry-After wins when given."""

    max_attempts: int = 3
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    jitter: float = 0.25  # +/- this fraction of the computed delay

    def delay(self, attempt: int, retry_after: float | None, rand: Callable[[], float]) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay_s)
        raw = min(self.base_delay_s * 2.0 ** (attempt - 1), self.max_delay_s)
        return max(0.0, raw * (1.0 + self.jitter * (2.0 * rand() - 1.0)))


@dataclass(frozen=True)
class RunOptions:
    workdir: Path
    concurrency: int = 8
    timeout_s: float = 600.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    budget_usd: float | None = None
    runtime_concurrency: Mapping[str, int] = field(default_factory=dict)
    rand: Callable[[], float] = random.random
    store: ResultStore | None = None  # remembered answers; None runs every assignment
    # Called once per assignment when its findings are final (recalled or answered).
    on_settled: Callable[[AssignmentOutcome], None] | None = None
    longest_first: bool = True  # False keeps plan order (the benchmark's naive baseline)


class SessionControls:
    """Lets a front end cancel one running assignment by key (the TUI's "cancel reviewer")."""

    def __init__(self) -> None:
        self._scopes: dict[str, anyio.CancelScope] = {}
        self._cancelled: set[str] = set()

    def cancel(self, key: str) -> None:
        self._cancelled.add(key)
        if key in self._scopes:
            self._scopes[key].cancel()

    def cancel_all(self) -> None:
        for key in list(self._scopes):
            self.cancel(key)

    @property
    def running(self) -> frozenset[str]:
        return frozenset(self._scopes)

    def _enter(self, key: str, scope: anyio.CancelScope) -> None:
        self._scopes[key] = scope
        if key in self._cancelled:
            scope.cancel()

    def _leave(self, key: str) -> None:
        self._scopes.pop(key, None)


class _Budget:
    """Spent cost so far; a session may start only if the average session still fits."""

    def __init__(self, limit: float | None) -> None:
        self.limit = limit
        self.spent = 0.0
        self.finished = 0

    def allows_another(self) -> bool:
        if self.limit is None:
            return True
        expected = self.spent / self.finished if self.finished else 0.0
        return self.spent + expected <= self.limit and self.spent < self.limit

    def record(self, usage: Usage) -> None:
        self.spent += usage.cost_usd
        self.finished += 1


async def run_plan(
    assignments: Sequence[Assignment],
    runtimes: Mapping[str, Runtime],
    emit: EventSink,
    options: RunOptions,
    stop: anyio.Event | None = None,
    controls: SessionControls | None = None,
) -> list[AssignmentOutcome]:
    """Run every assignment; outcomes come back in plan order, whatever happened.

    Setting ``stop`` aborts running sessions on the far side, marks unfinished
    ones ``cancelled`` and still returns every outcome.
    """
    outcomes = [_recall(AssignmentOutcome(a, model=a.model), options.store) for a in assignments]
    for o in outcomes:
        a = o.assignment
        emit(
            SessionQueued(
                a.key, a.agent.name, a.runtime, a.chunk.index, a.chunk_count, a.chunk.paths
            )
        )
    to_run = []
    for outcome in outcomes:
        a = outcome.assignment
        if outcome.status is ReviewerStatus.CACHED:
            emit(
                SessionFinished(
                    a.key, a.agent.name, outcome.status, len(outcome.findings), Usage(), 0.0
                )
            )
            _settled(outcome, options)
        elif a.runtime not in runtimes:
            # Only when the store forgot an answer between planning and now (expiry, pruning).
            outcome.status = ReviewerStatus.FAILED
            outcome.error = f"runtime '{a.runtime}' was not started"
            _settled(outcome, options)
        else:
            to_run.append(outcome)
    if options.longest_first:
        # Big assignments started last would stretch the tail of the run.
        to_run.sort(key=lambda o: -o.assignment.estimated_tokens)
    limiter = anyio.CapacityLimiter(options.concurrency)
    per_runtime = {
        name: anyio.CapacityLimiter(_runtime_limit(name, runtime, options))
        for name, runtime in runtimes.items()
    }
    budget = _Budget(options.budget_usd)
    try:
        async with anyio.create_task_group() as watcher:
            async with anyio.create_task_group() as sessions:
                if stop is not None:
                    watcher.start_soon(_cancel_when_set, stop, sessions.cancel_scope)
                for outcome in to_run:
                    runtime = outcome.assignment.runtime
                    sessions.start_soon(
                        _run_one,
                        outcome,
                        runtimes[runtime],
                        emit,
                        options,
                        (limiter, per_runtime[runtime]),
                        budget,
                        controls or SessionControls(),
                    )
            watcher.cancel_scope.cancel()
    finally:
        for outcome in outcomes:
            if outcome.status is ReviewerStatus.CANCELLED and outcome.error is None:
                outcome.error = "cancelled before it finished"
            outcome._settle()  # sessions cancelled before they began never settled
    return outcomes


def _recall(outcome: AssignmentOutcome, store: ResultStore | None) -> AssignmentOutcome:
    """Answer what the store remembers: all of the chunk (cached), or some of its files.

    In the second case the assignment shrinks to the files still to review, with a
    prompt rendered for just those, and the rest of the answer waits in ``recalled``.
    """
    if store is None:
        return outcome
    a = outcome.assignment
    known = store.recall(a)
    if known.complete:
        outcome.status = ReviewerStatus.CACHED
        outcome.findings = known.findings
        outcome.model = known.model or outcome.model
    elif known.known:
        outcome.assignment = narrow(a, known.missing, key=a.key, nonce=new_nonce())
        outcome.recalled = known.findings
    return outcome


def _settled(outcome: AssignmentOutcome, options: RunOptions) -> None:
    outcome._settle()
    if options.on_settled is not None:
        options.on_settled(outcome)


def _runtime_limit(name: str, runtime: Runtime, options: RunOptions) -> int:
    """A runtime may declare ``max_concurrency`` (e.g. CLI processes are heavier than HTTP)."""
    declared = getattr(runtime, "max_concurrency", DEFAULT_RUNTIME_CONCURRENCY)
    limit = options.runtime_concurrency.get(name) or declared
    return int(limit) if isinstance(limit, int) and limit > 0 else DEFAULT_RUNTIME_CONCURRENCY


async def _cancel_when_set(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    await stop.wait()
    scope.cancel()


async def _run_one(
    outcome: AssignmentOutcome,
    runtime: Runtime,
    emit: EventSink,
    options: RunOptions,
    limiters: tuple[anyio.CapacityLimiter, anyio.CapacityLimiter],
    budget: _Budget,
    controls: SessionControls,
) -> None:
    assignment = outcome.assignment
    started = time.monotonic()  # reset once the session really starts (after the limiters)
    try:
        with anyio.CancelScope() as scope:
            controls._enter(assignment.key, scope)
            # The runtime's own limit first: a session waiting for a busy runtime must
            # not hold one of the global slots another runtime's session could use.
            async with limiters[1], limiters[0]:
                if not budget.allows_another():
                    outcome.status = ReviewerStatus.SKIPPED
                    outcome.over_budget = True
                    outcome.error = (
                        f"not started: ${budget.spent:.4f} of the ${budget.limit:g} budget spent"
                    )
                    return
                started = time.monotonic()
                await _attempts(outcome, runtime, emit, options)
    finally:
        controls._leave(assignment.key)
        if outcome.status is ReviewerStatus.CANCELLED and outcome.error is None:
            outcome.error = "cancelled before it finished"
        budget.record(outcome.usage)
        outcome.duration_s = round(time.monotonic() - started, 3)
        _settled(outcome, options)
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


async def _attempts(
    outcome: AssignmentOutcome, runtime: Runtime, emit: EventSink, options: RunOptions
) -> None:
    """The whole conversation, retried from a fresh session while the failure is retryable."""
    assignment = outcome.assignment
    spent = Usage()
    for attempt in range(1, options.retry.max_attempts + 1):
        try:
            with anyio.fail_after(options.timeout_s):
                await _converse(outcome, runtime, emit, options.workdir)
            outcome.usage = spent + outcome.usage
            if options.store is not None:
                options.store.remember(assignment, outcome.findings, outcome.model)
            return
        except TimeoutError:
            outcome.status = ReviewerStatus.TIMEOUT
            outcome.error = f"timed out after {options.timeout_s:g}s"
        except RetryableSessionError as exc:
            outcome.status = ReviewerStatus.FAILED
            outcome.error = str(exc)
            outcome.raw_text = outcome.raw_text or exc.raw_text
            if attempt < options.retry.max_attempts:
                spent = spent + outcome.usage
                outcome.usage = Usage()
                delay = options.retry.delay(attempt, exc.retry_after, options.rand)
                outcome.retries += 1
                emit(
                    SessionRetrying(assignment.key, assignment.agent.name, attempt, str(exc), delay)
                )
                await anyio.sleep(delay)
                continue
            outcome.error = f"{exc} (gave up after {attempt} attempts)"
        except SessionError as exc:
            outcome.status = ReviewerStatus.FAILED
            outcome.error = str(exc)
            outcome.raw_text = outcome.raw_text or exc.raw_text
        outcome.usage = spent + outcome.usage
        return


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
        instructions=assignment.session_instructions,
    )
    async with runtime.open_session(spec, emit) as session:
        turn = await session.prompt(assignment.prompt)
        outcome.usage, outcome.tool_calls = turn.usage, turn.tool_calls
        outcome.model = turn.model or outcome.model
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
                raw = repair.text or turn.text
                # The raw answer is kept in the error so the review shows what the model said.
                shown = raw if len(raw) <= RAW_TEXT_LIMIT else raw[:RAW_TEXT_LIMIT] + " [...]"
                raise SessionError(
                    f"invalid output after one repair turn:\n{second.errors}\n"
                    f"raw answer: {shown!r}",
                    raw_text=raw,
                ) from None
    outcome.findings = list(answer.findings)
    outcome.status = ReviewerStatus.OK
