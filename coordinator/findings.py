"""The values that flow between stages: what reviewers report and what the review holds.

Pure: no I/O. The JSON shapes here are the review JSON contract of DESIGN.md.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def order(self) -> int:
        """0 for critical, 4 for info: smaller is more severe."""
        return _SEVERITY_ORDER[self]

    def at_least(self, other: Severity) -> bool:
        return self.order <= other.order


_SEVERITY_ORDER = {s: i for i, s in enumerate(Severity)}


class Anchor(StrEnum):
    """Where a new-file line sits relative to the diff."""

    ADDED = "added"  # an added line in a hunk
    CONTEXT = "context"  # a context line in a hunk
    FILE = "file"  # in a changed file, outside every hunk
    OUTSIDE = "outside"  # not in any reviewed file, or past its end


class Finding(BaseModel):
    """One problem as a reviewer reported it (the reviewer output contract)."""

    # Not str_strip_whitespace: it would strip the indentation of suggestion and evidence.
    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1)
    line: int = Field(ge=1)
    end_line: int | None = Field(default=None, ge=1)
    severity: Severity
    category: str = Field(min_length=1)
    title: str = Field(min_length=1)
    body: str = ""
    suggestion: str | None = None
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: str | None = None

    @field_validator("path", "category", "title", "body", mode="before")
    @classmethod
    def _strip(cls, value: object) -> object:
        return value.strip() if isinstance(value, str) else value

    @field_validator("suggestion", "evidence", mode="before")
    @classmethod
    def _trim_blank_lines(cls, value: object) -> object:
        # Code keeps its indentation; only surrounding blank lines and trailing spaces go.
        return value.strip("\n").rstrip() if isinstance(value, str) else value

    @field_validator("severity", mode="before")
    @classmethod
    def _lower_severity(cls, value: object) -> object:
        return value.lower().strip() if isinstance(value, str) else value

    @field_validator("path")
    @classmethod
    def _normalise_path(cls, value: str) -> str:
        # git's a/ and b/ prefixes are stripped later, only when the diff has no such path.
        while value.startswith("./"):
            value = value[2:]
        return value

    @property
    def last_line(self) -> int:
        return (
            self.end_line if self.end_line is not None and self.end_line >= self.line else self.line
        )


class ReviewerAnswer(BaseModel):
    """The whole object a reviewer must answer with."""

    model_config = ConfigDict(extra="ignore")

    findings: list[Finding]


class ReportedFinding(BaseModel):
    """A finding tagged with the reviewer that returned it: the input of merge."""

    reviewer: str
    finding: Finding


class ReviewFinding(Finding):
    """One entry of the ranked review, possibly merged from several reviewers."""

    id: str
    rank: int
    score: float
    reviewers: list[str]
    anchor: Anchor
    verdict: str | None = None


class RejectedFinding(Finding):
    reviewer: str
    reason: str


class UnreviewedReason(StrEnum):
    BINARY = "binary"
    DELETED = "deleted"
    BUDGET = "budget"
    EXCLUDED = "excluded"
    MODE_ONLY = "mode-only"
    EMPTY = "empty"


class Unreviewed(BaseModel):
    path: str
    reason: str
    detail: str | None = None
