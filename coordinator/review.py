"""The finished review: the document every reporter renders (the review JSON of DESIGN.md)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field

from coordinator import __version__
from coordinator.findings import RejectedFinding, ReviewFinding, Severity, Unreviewed


class ReviewerStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    CACHED = "cached"
    SKIPPED = "skipped"


class ToolInfo(BaseModel):
    name: str = "council"
    version: str = __version__


class DiffSummary(BaseModel):
    base: str | None
    head: str | None
    files: int
    additions: int
    deletions: int


class ReviewerReport(BaseModel):
    """One agent's totals over all of its sessions (one per chunk)."""

    agent: str
    runtime: str
    model: str | None
    status: ReviewerStatus
    sessions: int
    duration_s: float
    tokens_in: int
    tokens_out: int
    cost_usd: float
    findings: int
    error: str | None = None
    retries: int = 0


class FailOn(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    NEVER = "never"

    def threshold(self) -> Severity | None:
        return None if self is FailOn.NEVER else Severity(self.value)


class Summary(BaseModel):
    counts: dict[str, int]
    fail_on: FailOn
    failed: bool


class Review(BaseModel):
    schema_version: int = 1
    tool: ToolInfo = Field(default_factory=ToolInfo)
    diff: DiffSummary
    reviewers: list[ReviewerReport]
    findings: list[ReviewFinding]
    rejected: list[RejectedFinding]
    unreviewed: list[Unreviewed]
    summary: Summary

    @property
    def incomplete(self) -> bool:
        """Every reviewer that ran failed: the review says nothing about the diff."""
        ran = [r for r in self.reviewers if r.status is not ReviewerStatus.SKIPPED]
        return bool(ran) and all(
            r.status in (ReviewerStatus.FAILED, ReviewerStatus.TIMEOUT, ReviewerStatus.CANCELLED)
            for r in ran
        )


def summarise(findings: list[ReviewFinding], fail_on: FailOn) -> Summary:
    counts = {s.value: 0 for s in Severity}
    for f in findings:
        counts[f.severity.value] += 1
    threshold = fail_on.threshold()
    failed = threshold is not None and any(f.severity.at_least(threshold) for f in findings)
    return Summary(counts=counts, fail_on=fail_on, failed=failed)
