"""The evaluation report: what ``council eval --format json`` prints. Pure.

Shape (``schema_version`` 1)::

    {"schema_version": 1, "tool": {...},
     "dataset": {"path", "name", "cases", "golden"},
     "settings": {"agents", "runtime", "model", "line_window", "judge", "judge_runtime", "verify"},
     "cases": [{"id", "line", "status", "files", "additions", "deletions",
                "wall_s", "cost_usd", "tokens_in", "tokens_out", "golden": [...],
                "rows": [{"name", "kind", "tp", "fp", "fn", "precision", "recall", "f1",
                          "findings", "cost_usd", "tokens_in", "tokens_out", "duration_s",
                          "status", "error", "matched", "missed", "false_positives"}],
                "judge": {...} | null}],
     "totals": {"cases", "golden", "wall_s", "cost_usd", "tokens_in", "tokens_out",
                "judge_cost_usd", "rows": [{... counts and rates, "cases", "failed_cases"}]},
     "interrupted": false, "incomplete_cases": []}

Rates are ``null`` when undefined (see ``metrics``). Row costs: a reviewer row is
that reviewer's sessions; ``merged`` is every roster reviewer of the case;
``verified`` adds what the verify stage spent. The judge's cost is kept apart
(``judge`` per case, ``judge_cost_usd`` in totals) and is in no row; the case and
total ``cost_usd`` are everything the review spent (reviewers and verifier).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from coordinator.evaluation.dataset import GoldenIssue
from coordinator.evaluation.metrics import Counts
from coordinator.evaluation.scoring import RowKind
from coordinator.review import ToolInfo


class FindingRef(BaseModel):
    path: str
    line: int
    end_line: int | None
    title: str
    severity: str


class MatchRef(BaseModel):
    golden: int  # index into the case's golden list
    distance: int  # lines between the two ranges; 0 when they overlap
    finding: FindingRef


class Rates(BaseModel):
    tp: int
    fp: int
    fn: int
    precision: float | None
    recall: float | None
    f1: float | None

    @property
    def counts(self) -> Counts:
        return Counts(self.tp, self.fp, self.fn)


class RowResult(Rates):
    """One row of one case: a reviewer, the merged review, or the verified review."""

    name: str
    kind: RowKind
    findings: int
    cost_usd: float
    tokens_in: int
    tokens_out: int
    duration_s: float
    status: str | None = None  # the reviewer's status in this case (reviewer rows)
    error: str | None = None
    matched: list[MatchRef] = Field(default_factory=list)
    missed: list[int] = Field(default_factory=list)  # golden indices nobody matched
    false_positives: list[FindingRef] = Field(default_factory=list)


class JudgeResult(BaseModel):
    pairs: int  # distinct (golden issue, finding) pairs within the window
    accepted: int
    cost_usd: float
    tokens_in: int
    tokens_out: int
    error: str | None = None  # set when the judge failed: the case fell back to the window


class CaseResult(BaseModel):
    id: str
    line: int
    status: Literal["ok", "incomplete"]
    files: int
    additions: int
    deletions: int
    wall_s: float
    cost_usd: float
    tokens_in: int
    tokens_out: int
    golden: list[GoldenIssue]
    rows: list[RowResult]
    judge: JudgeResult | None = None


class TotalRow(Rates):
    name: str
    kind: RowKind
    findings: int
    cost_usd: float
    tokens_in: int
    tokens_out: int
    duration_s: float
    cases: int
    failed_cases: int  # reviewer rows: cases where it failed, timed out or was cancelled


class Totals(BaseModel):
    cases: int
    golden: int
    wall_s: float
    cost_usd: float
    tokens_in: int
    tokens_out: int
    judge_cost_usd: float
    rows: list[TotalRow]


class DatasetInfo(BaseModel):
    path: str
    name: str
    cases: int
    golden: int


class SettingsInfo(BaseModel):
    agents: list[str]
    runtime: str | None
    model: str | None
    line_window: int
    judge: str | None
    judge_runtime: str | None
    verify: bool


class EvalReport(BaseModel):
    schema_version: int = 1
    tool: ToolInfo = Field(default_factory=ToolInfo)
    dataset: DatasetInfo
    settings: SettingsInfo
    cases: list[CaseResult]
    totals: Totals
    interrupted: bool = False
    incomplete_cases: list[str] = Field(default_factory=list)

    def row(self, name: str) -> TotalRow | None:
        return next((r for r in self.totals.rows if r.name == name), None)


_FAILED_STATUSES = frozenset({"failed", "timeout", "cancelled"})


def total_of(cases: Sequence[CaseResult]) -> Totals:
    """Micro-averaged totals, rows in the order they first appear in the cases."""
    order: list[tuple[str, RowKind]] = []
    by_name: dict[str, list[RowResult]] = {}
    for case in cases:
        for row in case.rows:
            if row.name not in by_name:
                order.append((row.name, row.kind))
                by_name[row.name] = []
            by_name[row.name].append(row)
    rows = []
    for name, kind in order:
        mine = by_name[name]
        counts = sum((r.counts for r in mine), Counts())
        rows.append(
            TotalRow(
                tp=counts.tp,
                fp=counts.fp,
                fn=counts.fn,
                precision=counts.precision,
                recall=counts.recall,
                f1=counts.f1,
                name=name,
                kind=kind,
                findings=sum(r.findings for r in mine),
                cost_usd=round(sum(r.cost_usd for r in mine), 6),
                tokens_in=sum(r.tokens_in for r in mine),
                tokens_out=sum(r.tokens_out for r in mine),
                duration_s=round(sum(r.duration_s for r in mine), 3),
                cases=len(mine),
                failed_cases=sum(1 for r in mine if r.status in _FAILED_STATUSES),
            )
        )
    return Totals(
        cases=len(cases),
        golden=sum(len(c.golden) for c in cases),
        wall_s=round(sum(c.wall_s for c in cases), 3),
        cost_usd=round(sum(c.cost_usd for c in cases), 6),
        tokens_in=sum(c.tokens_in for c in cases),
        tokens_out=sum(c.tokens_out for c in cases),
        judge_cost_usd=round(sum(c.judge.cost_usd for c in cases if c.judge), 6),
        rows=rows,
    )
