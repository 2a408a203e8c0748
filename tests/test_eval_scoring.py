"""Scoring a finished Review (merged and verified rows), totals and the text report. Pure."""

from __future__ import annotations

from typing import Any

from coordinator.evaluation.dataset import EvalCase, GoldenIssue
from coordinator.evaluation.render import render_json, render_text
from coordinator.evaluation.results import (
    DatasetInfo,
    EvalReport,
    JudgeResult,
    SettingsInfo,
    total_of,
)
from coordinator.evaluation.runner import case_result
from coordinator.evaluation.scoring import (
    RowKind,
    finding_sets,
    judge_candidates,
    score_sets,
    verdict_of,
)
from coordinator.findings import Anchor, Finding, RejectedFinding, ReviewFinding
from coordinator.review import (
    DiffSummary,
    FailOn,
    Review,
    ReviewerReport,
    ReviewerStatus,
    summarise,
)

GOLDEN = (
    GoldenIssue(path="a.py", line=10, description="injection"),
    GoldenIssue(path="a.py", line=30, description="off by one"),
)


def fields(line: int, title: str = "t") -> dict[str, Any]:
    return {
        "path": "a.py",
        "line": line,
        "severity": "high",
        "category": "c",
        "title": title,
        "body": "b",
        "confidence": 0.9,
    }


def merged(line: int, reviewers: list[str], verdict: str | None = None) -> ReviewFinding:
    return ReviewFinding(
        **fields(line, f"at {line}"),
        id=f"id{line}",
        rank=1,
        score=0.5,
        reviewers=reviewers,
        anchor=Anchor.ADDED,
        verdict=verdict,
    )


def rejected(line: int, reviewer: str, reason: str) -> RejectedFinding:
    return RejectedFinding(**fields(line, f"at {line}"), reviewer=reviewer, reason=reason)


def report(agent: str, status: ReviewerStatus = ReviewerStatus.OK, cost: float = 0.01) -> Any:
    return ReviewerReport(
        agent=agent,
        runtime="openai",
        model="m",
        status=status,
        sessions=1,
        duration_s=1.5,
        tokens_in=1000,
        tokens_out=100,
        cost_usd=cost,
        findings=1,
        error="boom" if status is ReviewerStatus.FAILED else None,
    )


def review(
    findings: list[ReviewFinding],
    rejected: list[RejectedFinding],
    reviewers: list[ReviewerReport],
) -> Review:
    return Review(
        diff=DiffSummary(base="a", head="b", files=1, additions=40, deletions=0),
        reviewers=reviewers,
        findings=findings,
        rejected=rejected,
        unreviewed=[],
        summary=summarise(findings, FailOn.HIGH),
    )


def counts(rows: list[Any]) -> dict[str, tuple[int, int, int]]:
    return {r.name: (r.counts.tp, r.counts.fp, r.counts.fn) for r in rows}


def test_merged_row_counts_refuted_findings_once_and_verified_row_drops_them() -> None:
    # The verifier moved the merged finding at 50 to `rejected`, one entry per member.
    reason = "refuted by verifier: not reachable (evidence: 'return')"
    done = review(
        [merged(10, ["a", "b"], "confirmed"), merged(31, ["b"], "uncertain")],
        [
            rejected(50, "a", reason),
            rejected(51, "b", reason),
            rejected(70, "a", "location outside the diff (a.py:70)"),
        ],
        [report("a"), report("b"), report("verifier")],
    )
    sets = finding_sets(done, {"a": [Finding(**fields(10))], "b": []}, verified=True)
    assert [(s.name, s.kind) for s in sets] == [
        ("a", RowKind.REVIEWER),
        ("b", RowKind.REVIEWER),
        ("merged", RowKind.MERGED),
        ("verified", RowKind.VERIFIED),
    ]
    by_name = {s.name: s for s in sets}
    assert [f.line for f in by_name["merged"].findings] == [10, 31, 50]
    assert [f.line for f in by_name["verified"].findings] == [10, 31]
    assert counts(score_sets(sets, GOLDEN, 3)) == {
        "a": (1, 0, 1),
        "b": (0, 0, 2),
        "merged": (2, 1, 0),
        "verified": (2, 0, 0),
    }


def test_a_verdict_may_be_a_string_an_object_or_a_mapping() -> None:
    class Holder:
        def __init__(self, verdict: object) -> None:
            self.verdict = verdict

    assert verdict_of(Holder("Refuted")) == "refuted"
    assert verdict_of(Holder({"verdict": "confirmed", "reason": "x"})) == "confirmed"
    assert verdict_of(Holder(Holder("uncertain"))) == "uncertain"
    assert verdict_of(Holder(None)) is None
    assert verdict_of(object()) is None
    # A finding still carrying a refuted verdict is left out of the verified row.
    done = review([merged(10, ["a"]), merged(30, ["a"], "refuted")], [], [report("a")])
    sets = finding_sets(done, {"a": []}, verified=True)
    assert [f.line for f in sets[-1].findings] == [10]
    assert [f.line for f in sets[-2].findings] == [10, 30]


def test_judge_candidates_are_distinct_pairs_across_rows() -> None:
    same = Finding(**fields(11, "at 11"))
    done = review([merged(11, ["a"])], [], [report("a")])
    sets = finding_sets(done, {"a": [same]}, verified=False)
    # The reviewer's finding and the merged one are the same content: asked about once.
    assert [(g, f.line) for g, f in judge_candidates(sets, GOLDEN, 3)] == [(0, 11)]
    rows = score_sets(sets, GOLDEN, 3, accept=lambda g, f: False)
    assert counts(rows) == {"a": (0, 1, 2), "merged": (0, 1, 2)}


def make_case(case_id: str, status: ReviewerStatus = ReviewerStatus.OK) -> Any:
    done = review(
        [merged(10, ["a"]), merged(60, ["a"])],
        [],
        [report("a", status), report("b", cost=0.02), report("verifier", cost=0.005)],
    )
    sets = finding_sets(done, {"a": [Finding(**fields(10))], "b": []}, verified=True)
    case = EvalCase(id=case_id, line=1, golden=GOLDEN)
    return case_result(case, done, score_sets(sets, GOLDEN, 3), ["a", "b"], 4.25)


def test_case_costs_per_row_and_totals() -> None:
    first = make_case("one")
    rows = {r.name: r for r in first.rows}
    assert (rows["a"].cost_usd, rows["a"].tokens_in, rows["a"].duration_s) == (0.01, 1000, 1.5)
    assert rows["merged"].cost_usd == 0.03  # the roster
    assert rows["verified"].cost_usd == 0.035  # and the verify stage
    assert rows["verified"].status == "ok"  # the verify stage's own status
    assert rows["merged"].status is None
    assert (first.cost_usd, first.tokens_in, first.wall_s) == (0.035, 3000, 4.25)
    assert (rows["merged"].tp, rows["merged"].fp, rows["merged"].fn) == (1, 1, 1)
    assert rows["merged"].missed == [1]
    assert [f.line for f in rows["merged"].false_positives] == [60]

    second = make_case("two", ReviewerStatus.FAILED)
    totals = total_of([first, second])
    by_name = {r.name: r for r in totals.rows}
    assert [r.name for r in totals.rows] == ["a", "b", "merged", "verified"]
    assert (by_name["merged"].tp, by_name["merged"].fp, by_name["merged"].fn) == (2, 2, 2)
    assert by_name["merged"].precision == 0.5
    assert by_name["a"].failed_cases == 1
    assert (totals.cases, totals.golden, totals.cost_usd, totals.wall_s) == (2, 4, 0.07, 8.5)


def report_of(cases: list[Any], **extra: Any) -> EvalReport:
    return EvalReport(
        dataset=DatasetInfo(path="d/cases.jsonl", name="d", cases=3, golden=6),
        settings=SettingsInfo(
            agents=["a", "b"],
            runtime="openai",
            model="openai/m",
            line_window=3,
            judge=extra.pop("judge", None),
            judge_runtime="openai",
            verify=True,
        ),
        cases=cases,
        totals=total_of(cases),
        **extra,
    )


def test_text_report_marks_failures_interruptions_and_judge_errors() -> None:
    first = make_case("one")
    second = make_case("two", ReviewerStatus.FAILED).model_copy(
        update={
            "status": "incomplete",
            "judge": JudgeResult(
                pairs=2, accepted=0, cost_usd=0.001, tokens_in=5, tokens_out=1, error="timed out"
            ),
        }
    )
    text = render_text(
        report_of([first, second], interrupted=True, incomplete_cases=["two"], judge="openai/judge")
    )
    assert "council eval: d (d/cases.jsonl): 3 cases, 6 golden issues" in text
    assert "judge: openai/judge on openai" in text
    assert "[2/3] two: 2 golden" in text
    assert "INCOMPLETE: every reviewer failed" in text
    assert "  a                   1    0    1     1.000   0.500  0.667" in text
    assert "failed: boom" in text
    assert "missed (verified): a.py:30  off by one" in text
    assert "judge FAILED, scored by line window only: timed out ($0.0010)" in text
    assert "Totals over 2 cases (micro-averaged): INTERRUPTED after 2 of 3 cases" in text
    assert "failed in 1 case" in text
    assert "judge $0.0010" in text
    assert "incomplete (every reviewer failed): two" in text
    doc = EvalReport.model_validate_json(render_json(report_of([first])))
    assert doc.row("verified") is not None
    assert doc.cases[0].rows[0].name == "a"
