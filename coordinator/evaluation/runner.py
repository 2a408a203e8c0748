"""Run a roster over every case of a dataset and score it: the body of ``council eval``.

Each case is planned by ``coordinator.runner.plan_review_for`` and run the way
``run_prepared`` runs a review (same runtimes, same session runner, same merge,
mechanical checks and verifier through ``pipeline.finish_review``), in a private
checkout (``workspace``). ``_run_sessions`` keeps each reviewer's own answers
(the session outcomes, through ``run_prepared``'s ``on_outcomes``) to score it alone. Cases run one after
another, so a case's wall time is its own. Every repository case is checked before
the first model is asked, so a broken dataset fails fast (exit 2) instead of after
an hour of spend.

``stop`` (Ctrl-C) ends the evaluation after aborting the running case; the report
then holds the cases finished before it and says it was interrupted.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from coordinator.agents import AgentSpec
from coordinator.config import ReviewSettings
from coordinator.evaluation.dataset import Dataset, EvalCase, GoldenIssue
from coordinator.evaluation.judge import Judge, JudgeDecision, open_judge
from coordinator.evaluation.matching import DEFAULT_LINE_WINDOW
from coordinator.evaluation.results import (
    CaseResult,
    DatasetInfo,
    EvalReport,
    FindingRef,
    JudgeResult,
    MatchRef,
    RowResult,
    SettingsInfo,
    total_of,
)
from coordinator.evaluation.scoring import (
    RowKind,
    ScoredRow,
    finding_sets,
    judge_candidates,
    score_sets,
)
from coordinator.evaluation.workspace import check_case, materialise
from coordinator.events import EventSink, discard
from coordinator.findings import Anchor, Finding
from coordinator.merge import LineLocator
from coordinator.pipeline import PreparedReview, with_diff_path
from coordinator.review import Review, ReviewerReport
from coordinator.runner import plan_review_for, run_prepared
from coordinator.session import AssignmentOutcome

CaseCallback = Callable[[int, int, CaseResult], None]  # (number, of, result)


@dataclass(frozen=True)
class EvalOptions:
    line_window: int = DEFAULT_LINE_WINDOW
    judge_model: str | None = None


async def run_evaluation(
    dataset: Dataset,
    agents: Sequence[AgentSpec],
    settings: ReviewSettings,
    env: Mapping[str, str],
    options: EvalOptions,
    *,
    on_case: CaseCallback | None = None,
    emit: EventSink = discard,
    stop: anyio.Event | None = None,
) -> EvalReport:
    await anyio.to_thread.run_sync(_check_cases, dataset.cases)
    scratch = Path(await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="council-eval-")))
    results: list[CaseResult] = []
    interrupted = False
    judge_runtime: str | None = None
    try:
        async with AsyncExitStack() as stack:
            judge: Judge | None = None
            if options.judge_model is not None:
                judge = await stack.enter_async_context(
                    open_judge(options.judge_model, settings, env, scratch)
                )
                judge_runtime = judge.runtime.name
            for number, case in enumerate(dataset.cases, start=1):
                if stop is not None and stop.is_set():
                    interrupted = True
                    break
                result = await _run_case(
                    case, number, scratch, agents, settings, env, options, judge, emit, stop
                )
                if result is None:  # stopped while it ran: a partial review scores nothing
                    interrupted = True
                    break
                results.append(result)
                if on_case is not None:
                    on_case(number, len(dataset.cases), result)
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(scratch, ignore_errors=True))
    return EvalReport(
        dataset=DatasetInfo(
            path=str(dataset.path),
            name=dataset.name,
            cases=len(dataset.cases),
            golden=dataset.golden_count,
        ),
        settings=SettingsInfo(
            agents=[a.name for a in agents],
            runtime=settings.runtime,
            model=settings.model,
            line_window=options.line_window,
            judge=options.judge_model,
            judge_runtime=judge_runtime,
            verify=settings.verify,
        ),
        cases=results,
        totals=total_of(results),
        interrupted=interrupted,
        incomplete_cases=[r.id for r in results if r.status == "incomplete"],
    )


def _check_cases(cases: Sequence[EvalCase]) -> None:
    for case in cases:
        check_case(case)


async def _run_case(
    case: EvalCase,
    number: int,
    scratch: Path,
    agents: Sequence[AgentSpec],
    settings: ReviewSettings,
    env: Mapping[str, str],
    options: EvalOptions,
    judge: Judge | None,
    emit: EventSink,
    stop: anyio.Event | None,
) -> CaseResult | None:
    workspace = await anyio.to_thread.run_sync(materialise, case, number, scratch)
    try:
        started = time.monotonic()
        prepared = await plan_review_for(
            workspace.root, workspace.request, settings, env, agents=agents
        )
        outcomes, review = await _run_sessions(prepared, settings, env, emit, stop)
        wall = time.monotonic() - started
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(
                lambda: shutil.rmtree(workspace.root, ignore_errors=True)
            )
    if stop is not None and stop.is_set():
        return None
    names = [a.name for a in agents]
    sets = finding_sets(
        review, _answers(prepared, outcomes, names), verified=prepared.verifier is not None
    )
    decision: JudgeDecision | None = None
    if judge is not None:
        candidates = judge_candidates(sets, case.golden, options.line_window)
        decision = await judge.decide(case.id, case.golden, candidates)
    accept = decision.accepts if decision is not None and decision.error is None else None
    rows = score_sets(sets, case.golden, options.line_window, accept)
    return case_result(case, review, rows, names, round(wall, 3), decision)


async def _run_sessions(
    prepared: PreparedReview,
    settings: ReviewSettings,
    env: Mapping[str, str],
    emit: EventSink,
    stop: anyio.Event | None,
) -> tuple[list[AssignmentOutcome], Review]:
    """``run_prepared``, keeping the session outcomes for per-reviewer scoring."""
    kept: list[AssignmentOutcome] = []
    review = await run_prepared(prepared, settings, env, emit, stop=stop, on_outcomes=kept.extend)
    return kept, review


def _answers(
    prepared: PreparedReview, outcomes: Sequence[AssignmentOutcome], reviewers: Sequence[str]
) -> dict[str, list[Finding]]:
    """Each reviewer's findings over all its sessions, as answered (diff prefixes stripped)."""
    answers: dict[str, list[Finding]] = {name: [] for name in reviewers}
    for outcome in outcomes:
        mine = answers.get(outcome.assignment.agent.name)
        if mine is not None:
            mine.extend(with_diff_path(f, prepared.line_map.has_path) for f in outcome.findings)
    return answers


def case_result(
    case: EvalCase,
    review: Review,
    rows: Sequence[ScoredRow],
    reviewers: Sequence[str],
    wall_s: float,
    decision: JudgeDecision | None = None,
) -> CaseResult:
    """A scored case as the report holds it; costs and times from the review's reviewers."""
    reports = {r.agent: r for r in review.reviewers}
    roster = [reports[n] for n in reviewers if n in reports]
    every = list(review.reviewers)
    # The verify stage reports itself as one more reviewer; its status goes on the verified row.
    stage = next((r for r in every if r.agent not in reviewers), None)
    return CaseResult(
        id=case.id,
        line=case.line,
        status="incomplete" if review.incomplete else "ok",
        files=review.diff.files,
        additions=review.diff.additions,
        deletions=review.diff.deletions,
        wall_s=wall_s,
        cost_usd=round(sum(r.cost_usd for r in every), 6),
        tokens_in=sum(r.tokens_in for r in every),
        tokens_out=sum(r.tokens_out for r in every),
        golden=list(case.golden),
        rows=[
            _row(row, _status_source(row, reports, stage), roster, every, wall_s) for row in rows
        ],
        judge=None
        if decision is None
        else JudgeResult(
            pairs=decision.pairs,
            accepted=len(decision.accepted),
            cost_usd=round(decision.usage.cost_usd, 6),
            tokens_in=decision.usage.tokens_in,
            tokens_out=decision.usage.tokens_out,
            error=decision.error,
        ),
    )


def _status_source(
    row: ScoredRow, reports: Mapping[str, ReviewerReport], stage: ReviewerReport | None
) -> ReviewerReport | None:
    if row.kind is RowKind.REVIEWER:
        return reports.get(row.name)
    return stage if row.kind is RowKind.VERIFIED else None


def _row(
    row: ScoredRow,
    report: ReviewerReport | None,
    roster: Sequence[ReviewerReport],
    every: Sequence[ReviewerReport],
    wall_s: float,
) -> RowResult:
    """``report``: the reviewer's own (reviewer rows) or the verify stage's (verified row)."""
    counts = row.counts
    if row.kind is RowKind.REVIEWER:
        spending: Sequence[ReviewerReport] = [report] if report is not None else []
        duration = report.duration_s if report is not None else 0.0
    else:
        spending = roster if row.kind is RowKind.MERGED else every
        duration = wall_s
    return RowResult(
        name=row.name,
        kind=row.kind,
        tp=counts.tp,
        fp=counts.fp,
        fn=counts.fn,
        precision=counts.precision,
        recall=counts.recall,
        f1=counts.f1,
        findings=len(row.findings),
        cost_usd=round(sum(r.cost_usd for r in spending), 6),
        tokens_in=sum(r.tokens_in for r in spending),
        tokens_out=sum(r.tokens_out for r in spending),
        duration_s=round(duration, 3),
        status=report.status.value if report is not None else None,
        error=report.error if report is not None else None,
        matched=[
            MatchRef(golden=p.golden, distance=p.distance, finding=_ref(row.findings[p.finding]))
            for p in row.matching.pairs
        ],
        missed=list(row.matching.missed),
        false_positives=[_ref(row.findings[i]) for i in row.matching.unmatched],
    )


def _ref(finding: Finding) -> FindingRef:
    return FindingRef(
        path=finding.path,
        line=finding.line,
        end_line=finding.end_line,
        title=finding.title,
        severity=finding.severity.value,
    )


async def plan_dataset(
    dataset: Dataset,
    agents: Sequence[AgentSpec],
    settings: ReviewSettings,
    env: Mapping[str, str],
) -> list[dict[str, Any]]:
    """``--dry-run``: materialise and plan every case; say where each golden issue sits."""
    await anyio.to_thread.run_sync(_check_cases, dataset.cases)
    scratch = Path(await anyio.to_thread.run_sync(lambda: tempfile.mkdtemp(prefix="council-eval-")))
    plans: list[dict[str, Any]] = []
    try:
        for number, case in enumerate(dataset.cases, start=1):
            workspace = await anyio.to_thread.run_sync(materialise, case, number, scratch)
            prepared = await plan_review_for(
                workspace.root,
                workspace.request,
                settings,
                env,
                agents=agents,
                require_runtime=False,
            )
            diff = prepared.diff
            plans.append(
                {
                    "id": case.id,
                    "files": len(diff.files),
                    "additions": diff.additions,
                    "deletions": diff.deletions,
                    "sessions": len(prepared.plan.assignments),
                    "estimated_tokens": sum(a.estimated_tokens for a in prepared.plan.assignments),
                    "golden": [
                        {
                            "path": g.path,
                            "line": g.line,
                            "end_line": g.end_line,
                            "anchor": golden_anchor(g, prepared.line_map).value,
                        }
                        for g in case.golden
                    ],
                }
            )
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(lambda: shutil.rmtree(scratch, ignore_errors=True))
    return plans


_ANCHOR_ORDER = (Anchor.ADDED, Anchor.CONTEXT, Anchor.FILE, Anchor.OUTSIDE)


def golden_anchor(issue: GoldenIssue, locator: LineLocator) -> Anchor:
    """The best anchor over the golden range: where a finding about it could sit."""
    last = min(issue.last_line, issue.line + 1000)
    anchors = {locator.locate(issue.path, line) for line in range(issue.line, last + 1)}
    return next(a for a in _ANCHOR_ORDER if a in anchors)
