"""The review from end to end: intake -> plan -> sessions -> merge -> Review.

Front ends (CLI, TUI, hook, Action) call ``prepare_review`` and ``execute_review``
and consume the event stream; nothing here imports them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from coordinator.agents import AgentSpec
from coordinator.config import ReviewSettings
from coordinator.diff.linemap import LineMap
from coordinator.diff.model import Diff
from coordinator.diff.sources import DiffRequest, new_file_line_counts, new_file_texts, read_diff
from coordinator.dismissals import Dismissals, dismissal_reasons, load_dismissals
from coordinator.events import EventSink, Usage
from coordinator.findings import Finding, ReportedFinding, Unreviewed, UnreviewedReason
from coordinator.guidelines import collect_guidelines
from coordinator.merge import FilterMode, MergeOptions, MergeResult, merge_findings
from coordinator.planning import Plan, plan_review
from coordinator.result_store import ResultStore
from coordinator.review import DiffSummary, Review, ReviewerReport, ReviewerStatus, summarise
from coordinator.runtimes.base import Runtime
from coordinator.session import AssignmentOutcome, RunOptions, SessionControls, run_plan
from coordinator.verify import VerifyOptions, mechanical_checks, reject, run_verifier

_FAILED = (ReviewerStatus.FAILED, ReviewerStatus.TIMEOUT, ReviewerStatus.CANCELLED)


@dataclass(frozen=True)
class PreparedReview:
    repo: Path
    diff: Diff
    plan: Plan
    line_map: LineMap
    verifier: AgentSpec | None = None  # the verify stage's agent, when --verify is on
    verifier_runtime: str | None = None
    guidelines: Mapping[str, str] = field(default_factory=dict)  # rule file -> text
    dismissals: Dismissals = field(default_factory=Dismissals)  # .council/dismissed.toml


async def prepare_review(
    repo: Path,
    request: DiffRequest,
    agents: Sequence[AgentSpec],
    settings: ReviewSettings,
    *,
    runtime_for: Callable[[AgentSpec], str],
    stdin_text: str | None = None,
    verifier: AgentSpec | None = None,
    read_guideline: Callable[[str], str | None] | None = None,
) -> PreparedReview:
    """Read the diff and plan the sessions. Git and file reads run off the event loop."""

    def gather() -> PreparedReview:
        diff = read_diff(repo, request, stdin_text=stdin_text)
        line_map = LineMap(diff.files, new_file_line_counts(repo, diff))
        guidelines = collect_guidelines(repo, [f.path for f in diff.files], read=read_guideline)
        plan = plan_review(
            diff,
            agents,
            chunk_tokens=settings.chunk_tokens,
            group_tokens=settings.group_tokens,
            runtime_for=runtime_for,
            model_for=lambda agent: settings.model or agent.model,
            guidelines=guidelines,
        )
        use_verifier = verifier if settings.verify else None
        return PreparedReview(
            repo=repo,
            diff=diff,
            plan=plan,
            line_map=line_map,
            verifier=use_verifier,
            verifier_runtime=runtime_for(use_verifier) if use_verifier else None,
            guidelines=guidelines,
            # An untrusted diff must not hide findings: dismissals come from where
            # guidelines do (read_guideline reads the base commit then).
            dismissals=load_dismissals(repo, read=read_guideline),
        )

    return await anyio.to_thread.run_sync(gather)


async def execute_review(
    prepared: PreparedReview,
    runtimes: Mapping[str, Runtime],
    settings: ReviewSettings,
    emit: EventSink,
    *,
    stop: anyio.Event | None = None,
    controls: SessionControls | None = None,
    store: ResultStore | None = None,
    on_outcomes: Callable[[Sequence[AssignmentOutcome]], None] | None = None,
) -> Review:
    """Run the plan's sessions and assemble the review; after ``stop``, a partial one.

    ``on_outcomes`` sees every session's own answer before merging (``council eval``
    scores each reviewer alone from them).
    """
    outcomes = await run_plan(
        prepared.plan.assignments,
        runtimes,
        emit,
        RunOptions(
            workdir=prepared.repo,
            concurrency=settings.concurrency,
            timeout_s=settings.timeout_s,
            budget_usd=settings.budget_usd,
            store=store,
        ),
        stop=stop,
        controls=controls,
    )
    if on_outcomes is not None:
        on_outcomes(outcomes)
    return await finish_review(prepared, outcomes, runtimes, settings, emit)


async def finish_review(
    prepared: PreparedReview,
    outcomes: Sequence[AssignmentOutcome],
    runtimes: Mapping[str, Runtime],
    settings: ReviewSettings,
    emit: EventSink,
) -> Review:
    """Everything after the sessions: merge, checks, the verifier when on, the Review.

    Separate so a front end that runs sessions itself (the TUI re-runs a failed
    reviewer) finishes its review the same way.
    """
    # Checks and the verifier run before the --max-findings cut, so a finding they
    # reject gives its place to the next one.
    merged = merged_findings(prepared, outcomes, settings)
    mode = FilterMode(settings.filter_mode)
    paths = sorted({f.path for f in merged.findings})
    texts = await anyio.to_thread.run_sync(new_file_texts, prepared.repo, prepared.diff, paths)
    merged = mechanical_checks(
        merged, texts, prepared.line_map, mode, rules=prepared.guidelines.values()
    )
    cap = settings.max_findings
    extra: list[ReviewerReport] = []
    verifier, runtime_name = prepared.verifier, prepared.verifier_runtime
    if (
        verifier is not None
        and runtime_name is not None
        and runtime_name in runtimes
        and merged.findings
    ):
        # The verifier sees twice the cap: enough to fill the places of the findings
        # it refutes, without paying to verify findings that would be cut anyway.
        if cap is not None:
            merged = _cut(merged, cap, keep=2 * cap)
        merged, report = await run_verifier(
            merged,
            verifier=verifier,
            runtime=runtimes[runtime_name],
            runtime_name=runtime_name,
            model=settings.model or verifier.model,
            texts=texts,
            files={f.path: f for f in prepared.diff.files},
            emit=emit,
            options=VerifyOptions(
                workdir=prepared.repo,
                timeout_s=settings.timeout_s,
                concurrency=min(settings.concurrency, 4),
            ),
            mode=mode,
        )
        if report is not None:
            extra.append(report)
    return build_review(prepared, _cut(merged, cap), outcomes, runtimes, settings, extra)


def merge_outcomes(
    prepared: PreparedReview, outcomes: Sequence[AssignmentOutcome], settings: ReviewSettings
) -> MergeResult:
    """The merged, ranked findings, cut to ``--max-findings`` (no checks, no verifier)."""
    return _cut(merged_findings(prepared, outcomes, settings), settings.max_findings)


def merged_findings(
    prepared: PreparedReview, outcomes: Sequence[AssignmentOutcome], settings: ReviewSettings
) -> MergeResult:
    """Every session's findings merged and ranked, dismissed ones moved to ``rejected``."""
    plan = prepared.plan
    reported = [
        ReportedFinding(
            reviewer=o.assignment.agent.name,
            finding=with_diff_path(f, prepared.line_map.has_path),
        )
        for o in outcomes
        for f in o.findings
    ]
    merged = merge_findings(
        reported,
        prepared.line_map,
        MergeOptions(
            filter_mode=FilterMode(settings.filter_mode),
            min_confidence=settings.min_confidence,
            reviewer_weights={a.name: a.weight for a in plan.agents},
            reviewer_limits={a.name: a.max_findings for a in plan.agents if a.max_findings},
        ),
    )
    if not settings.show_dismissed:
        # Dismissed findings move to `rejected` with their reason before the verifier
        # sees them and before any cut: a dismissed finding must not take a place.
        merged = reject(merged, dismissal_reasons(merged.findings, prepared.dismissals))
    return merged


def _cut(merged: MergeResult, max_findings: int | None, keep: int | None = None) -> MergeResult:
    """Keep the ``keep`` (default ``max_findings``) best ranked; the rest go to ``rejected``."""
    if max_findings is None:
        return merged
    over = merged.findings[keep or max_findings :]
    return reject(
        merged, {f.id: f"over --max-findings {max_findings} (rank {f.rank})" for f in over}
    )


def assemble_review(
    prepared: PreparedReview,
    outcomes: Sequence[AssignmentOutcome],
    runtimes: Mapping[str, Runtime],
    settings: ReviewSettings,
) -> Review:
    """The review from the outcomes so far, without the verify stage (e.g. for live views)."""
    return build_review(
        prepared, merge_outcomes(prepared, outcomes, settings), outcomes, runtimes, settings
    )


def build_review(
    prepared: PreparedReview,
    merged: MergeResult,
    outcomes: Sequence[AssignmentOutcome],
    runtimes: Mapping[str, Runtime],
    settings: ReviewSettings,
    extra_reviewers: Sequence[ReviewerReport] = (),
) -> Review:
    plan = prepared.plan
    reviewers = reviewer_reports(plan, outcomes, runtimes) + list(extra_reviewers)
    unreviewed = list(plan.unreviewed) + failed_paths(outcomes)
    diff = prepared.diff
    return Review(
        diff=DiffSummary(
            base=diff.base,
            head=diff.head,
            files=len(diff.files),
            additions=diff.additions,
            deletions=diff.deletions,
        ),
        reviewers=reviewers,
        findings=merged.findings,
        rejected=merged.rejected,
        unreviewed=unreviewed,
        summary=summarise(merged.findings, settings.fail_on),
    )


def with_diff_path(finding: Finding, in_diff: Callable[[str], bool]) -> Finding:
    """Models sometimes echo git's ``a/``/``b/`` prefixes; strip one only when that names a diff path."""
    path = finding.path
    if not in_diff(path) and path[:2] in ("a/", "b/") and in_diff(path[2:]):
        return finding.model_copy(update={"path": path[2:]})
    return finding


def reviewer_reports(
    plan: Plan, outcomes: Sequence[AssignmentOutcome], runtimes: Mapping[str, Runtime]
) -> list[ReviewerReport]:
    by_agent: dict[str, list[AssignmentOutcome]] = defaultdict(list)
    for outcome in outcomes:
        by_agent[outcome.assignment.agent.name].append(outcome)
    reports = []
    for agent in plan.agents:
        mine = by_agent.get(agent.name, [])
        runtime = mine[0].assignment.runtime if mine else (agent.runtime or "")
        usage = sum((o.usage for o in mine), Usage())
        bad = [o for o in mine if o.status in _FAILED]
        skipped = [o for o in mine if o.status is ReviewerStatus.SKIPPED]
        error: str | None
        if not mine:
            status, error = ReviewerStatus.SKIPPED, "nothing in the diff for this reviewer"
        elif len(skipped) == len(mine):
            status, error = ReviewerStatus.SKIPPED, skipped[0].error
        elif all(o.status is ReviewerStatus.CACHED for o in mine):
            status, error = ReviewerStatus.CACHED, None
        elif bad:
            status = bad[0].status
            reasons = "; ".join(sorted({o.error or o.status.value for o in bad}))
            error = (
                reasons
                if len(bad) == len(mine)
                else f"{len(bad)} of {len(mine)} sessions did not finish: {reasons}"
            )
        else:
            status, error = ReviewerStatus.OK, None
        model = next((o.model for o in mine if o.model), None)
        if model is None and runtime in runtimes:
            model = agent.model or runtimes[runtime].default_model()
        reports.append(
            ReviewerReport(
                agent=agent.name,
                runtime=runtime,
                model=model,
                status=status,
                sessions=len(mine),
                duration_s=round(max((o.duration_s for o in mine), default=0.0), 3),
                tokens_in=usage.tokens_in,
                tokens_out=usage.tokens_out,
                cost_usd=round(usage.cost_usd, 6),
                findings=sum(len(o.findings) for o in mine),
                error=error,
                retries=sum(o.retries for o in mine),
            )
        )
    return reports


def failed_paths(outcomes: Sequence[AssignmentOutcome]) -> list[Unreviewed]:
    """Paths nobody finished reviewing: every session meant for them failed, or was
    never started because the budget ran out (then the reviewers left out are named)."""
    reviewed: set[str] = set()
    failed: dict[str, list[str]] = defaultdict(list)
    over_budget: dict[str, list[str]] = defaultdict(list)
    for o in outcomes:
        for path in o.assignment.chunk.paths:
            if o.over_budget:
                over_budget[path].append(o.assignment.agent.name)
            elif o.status in _FAILED:
                failed[path].append(o.assignment.agent.name)
            else:
                reviewed.add(path)
    items = [
        Unreviewed(
            path=p,
            reason="failed",
            detail="every reviewer of this path failed: " + ", ".join(sorted(a)),
        )
        for p, a in sorted(failed.items())
        if p not in reviewed
    ]
    items += [
        Unreviewed(
            path=p,
            reason=UnreviewedReason.BUDGET,
            detail="--budget-usd reached before these reviewers started: " + ", ".join(sorted(a)),
        )
        for p, a in sorted(over_budget.items())
    ]
    return items
