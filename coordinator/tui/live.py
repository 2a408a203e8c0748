"""The real ReviewRun: the pipeline's sessions, runtimes and verify stage behind the TUI.

It runs the plan with ``session.run_plan`` rather than ``runner.run_prepared`` because
the TUI needs what the CLI does not: each session's findings as soon as it ends (so
the browser fills while others still run), the outcome of every session (so a failed
one can be re-run and the review re-assembled), and per-key cancellation.

Findings arrive through ``RunOptions.on_settled``: the session runner calls it with
each assignment's final findings, remembered or answered, the moment they are known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path

import anyio

from coordinator.config import ReviewSettings
from coordinator.diff.sources import new_file_texts
from coordinator.events import EventSink, SessionFinished, SessionQueued, Usage
from coordinator.findings import Finding
from coordinator.pipeline import PreparedReview, assemble_review, finish_review, merge_outcomes
from coordinator.planning import Assignment
from coordinator.result_store import ResultStore, default_store_path, unanswered
from coordinator.review import Review, ReviewerStatus
from coordinator.runtimes.base import Runtime
from coordinator.runtimes.registry import RUNTIME_FACTORIES, RuntimeContext
from coordinator.session import AssignmentOutcome, RunOptions, SessionControls, run_plan
from coordinator.tui.run import FindingsUpdate, PlannedSession, RunOverview, UpdateSink

RuntimeFactory = Callable[[RuntimeContext], Runtime]
MERGE_INTERVAL_S = 0.1  # findings bursts (many sessions ending at once) merge once


class LiveReviewRun:
    """A prepared review run for the TUI. Construct it cheaply; nothing starts before ``run``."""

    def __init__(
        self,
        prepared: PreparedReview,
        settings: ReviewSettings,
        env: Mapping[str, str],
        *,
        runtime_factories: Mapping[str, RuntimeFactory] = RUNTIME_FACTORIES,
        store_path: Path | None = None,
    ) -> None:
        self._prepared = prepared
        self._settings = settings
        # The browser hides dismissed findings itself (and can show them again).
        self._keep_all = replace(settings, show_dismissed=True)
        self._env = env
        self._factories = runtime_factories
        self._store_path = store_path or default_store_path(env)
        plan = prepared.plan
        self._by_key = {a.key: a for a in plan.assignments}
        self._outcomes = {a.key: AssignmentOutcome(a, model=a.model) for a in plan.assignments}
        self._answers: dict[str, list[Finding]] = {}
        self._owner: dict[str, int] = {}  # key -> the call (run or re-run) responsible for it
        self._calls: dict[int, tuple[SessionControls, anyio.Event, anyio.CancelScope]] = {}
        self._next_call = 0
        self._runtimes_seen: dict[str, Runtime] = {}
        self._answers_changed: set[anyio.Event] = set()
        self._overview = RunOverview(
            repo=prepared.repo,
            source=prepared.diff.source,
            diff=prepared.diff,
            sessions=tuple(
                PlannedSession(
                    a.key,
                    a.agent.name,
                    a.runtime,
                    a.model,
                    a.chunk.index,
                    a.chunk_count,
                    a.chunk.paths,
                )
                for a in plan.assignments
            ),
            unreviewed=plan.unreviewed,
            dismissals=prepared.dismissals,
            show_dismissed=settings.show_dismissed,
            fail_on=settings.fail_on,
        )

    @property
    def overview(self) -> RunOverview:
        return self._overview

    async def run(self, sink: UpdateSink) -> Review:
        return await self._execute(list(self._prepared.plan.assignments), sink)

    async def rerun(self, keys: Sequence[str], sink: UpdateSink) -> Review:
        chosen = [self._by_key[k] for k in dict.fromkeys(keys) if k in self._by_key]
        for a in chosen:
            self._answers.pop(a.key, None)
        return await self._execute(chosen, sink)

    def cancel(self, key: str) -> None:
        call = self._calls.get(self._owner.get(key, -1))
        if call is not None:
            call[0].cancel(key)

    def cancel_all(self) -> None:
        for _controls, stop, startup in self._calls.values():
            stop.set()
            startup.cancel()

    async def read_new_file(self, path: str) -> str | None:
        texts = await anyio.to_thread.run_sync(
            new_file_texts, self._prepared.repo, self._prepared.diff, [path]
        )
        return texts.get(path)

    # -- running ---------------------------------------------------------------------

    async def _execute(self, assignments: list[Assignment], sink: UpdateSink) -> Review:
        call = self._next_call
        self._next_call += 1
        controls, stop, startup = SessionControls(), anyio.Event(), anyio.CancelScope()
        self._calls[call] = (controls, stop, startup)
        for a in assignments:
            self._owner[a.key] = call
        try:
            return await self._sessions_then_review(assignments, sink, call)
        finally:
            del self._calls[call]

    async def _sessions_then_review(
        self, assignments: list[Assignment], sink: UpdateSink, call: int
    ) -> Review:
        controls, stop, startup = self._calls[call]
        store = ResultStore(self._store_path) if self._settings.cache else None
        async with AsyncExitStack() as stack:
            if store is not None:
                stack.callback(store.close)
            fresh = unanswered(assignments, store)
            runtimes: dict[str, Runtime] = {}
            with startup:
                runtimes = await self._start_runtimes(stack, fresh)
            if startup.cancelled_caught:
                outcomes = _cancelled(assignments, sink)
            else:
                async with anyio.create_task_group() as tg:
                    changed = anyio.Event()
                    self._answers_changed.add(changed)
                    tg.start_soon(self._publish_findings, sink, changed)
                    outcomes = await run_plan(
                        assignments,
                        runtimes,
                        sink,
                        self._options(store),
                        stop=stop,
                        controls=controls,
                    )
                    tg.cancel_scope.cancel()
            for outcome in outcomes:
                if self._owner.get(outcome.assignment.key) == call:
                    self._outcomes[outcome.assignment.key] = outcome
            every = [self._outcomes[a.key] for a in self._prepared.plan.assignments]
            if stop.is_set():
                # Cancelled by the user: no verifier sessions on a partial review.
                review = assemble_review(self._prepared, every, self._runtimes_seen, self._keep_all)
            else:
                review = await finish_review(
                    self._prepared, every, self._runtimes_seen, self._keep_all, sink
                )
        members = merge_outcomes(self._prepared, every, self._keep_all).members
        sink(
            FindingsUpdate(
                tuple(review.findings),
                {f.id: members[f.id] for f in review.findings if f.id in members},
                final=True,
            )
        )
        return review

    def _options(self, store: ResultStore | None) -> RunOptions:
        s = self._settings
        return RunOptions(
            workdir=self._prepared.repo,
            concurrency=s.concurrency,
            timeout_s=s.timeout_s,
            budget_usd=s.budget_usd,
            store=store,
            on_settled=self._record_answer,
        )

    async def _start_runtimes(
        self, stack: AsyncExitStack, fresh: list[Assignment]
    ) -> dict[str, Runtime]:
        """As ``runner.run_prepared`` does: one runtime per name the sessions (and the
        verifier) need, each told every agent it will run."""
        prepared = self._prepared
        needed = {a.runtime for a in fresh}
        if prepared.verifier is not None and prepared.verifier_runtime is not None:
            needed.add(prepared.verifier_runtime)
        runtimes: dict[str, Runtime] = {}
        for name in sorted(needed):
            using = [a.agent for a in fresh if a.runtime == name]
            if prepared.verifier is not None and prepared.verifier_runtime == name:
                using.append(prepared.verifier)
            unique = list({a.name: a for a in using}.values())
            ctx = RuntimeContext(
                workdir=prepared.repo, agents=unique, settings=self._settings, env=self._env
            )
            runtimes[name] = await stack.enter_async_context(self._factories[name](ctx))
            self._runtimes_seen[name] = runtimes[name]
        return runtimes

    # -- findings as sessions end ------------------------------------------------------

    def _record_answer(self, outcome: AssignmentOutcome) -> None:
        if (
            outcome.status not in (ReviewerStatus.OK, ReviewerStatus.CACHED)
            and not outcome.findings
        ):
            return
        self._answers[outcome.assignment.key] = list(outcome.findings)
        for changed in self._answers_changed:
            changed.set()

    async def _publish_findings(self, sink: UpdateSink, changed: anyio.Event) -> None:
        try:
            while True:
                await changed.wait()
                self._answers_changed.discard(changed)
                changed = anyio.Event()
                self._answers_changed.add(changed)
                answers = dict(self._answers)
                # Merging is pure CPU work that grows with the findings: off the event loop.
                update = await anyio.to_thread.run_sync(self._merge_answers, answers)
                sink(update)
                await anyio.sleep(MERGE_INTERVAL_S)
        finally:
            self._answers_changed.discard(changed)

    def _merge_answers(self, answers: Mapping[str, list[Finding]]) -> FindingsUpdate:
        outcomes = [
            AssignmentOutcome(self._by_key[key], status=ReviewerStatus.OK, findings=findings)
            for key, findings in answers.items()
        ]
        merged = merge_outcomes(self._prepared, outcomes, self._keep_all)
        return FindingsUpdate(tuple(merged.findings), dict(merged.members))


def _cancelled(assignments: Sequence[Assignment], emit: EventSink) -> list[AssignmentOutcome]:
    """Outcomes for sessions cancelled while their runtimes were still starting."""
    outcomes = []
    for a in assignments:
        emit(
            SessionQueued(
                a.key, a.agent.name, a.runtime, a.chunk.index, a.chunk_count, a.chunk.paths
            )
        )
        outcome = AssignmentOutcome(a, model=a.model, error="cancelled before it started")
        emit(SessionFinished(a.key, a.agent.name, outcome.status, 0, Usage(), 0.0, outcome.error))
        outcomes.append(outcome)
    return outcomes
