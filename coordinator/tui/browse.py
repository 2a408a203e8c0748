"""The review browser's state: findings, triage (accepted / dismissed) and filters.

Pure (no textual, no I/O). Dismissals are kept here as the app last wrote them, so
the list, the export and ``council review`` agree on what is hidden.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from coordinator.dismissals import Dismissal, Dismissals, dismissal_reasons
from coordinator.findings import Finding, ReportedFinding, ReviewFinding, Severity
from coordinator.merge import MergeResult
from coordinator.review import Review, summarise
from coordinator.verify import reject


class Triage(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class FindingFilter:
    min_severity: Severity | None = None  # this severity or worse
    reviewer: str | None = None
    path: str = ""  # a substring, or a glob when it has * ? or [
    text: str = ""  # every word must occur somewhere in the finding or its wording
    show_dismissed: bool = False

    @property
    def active(self) -> bool:
        return bool(self.min_severity or self.reviewer or self.path.strip() or self.text.strip())


@dataclass
class BrowserState:
    findings: list[ReviewFinding] = field(default_factory=list)
    members: dict[str, tuple[ReportedFinding, ...]] = field(default_factory=dict)
    dismissals: Dismissals = field(default_factory=Dismissals)
    accepted: set[str] = field(default_factory=set)
    filter: FindingFilter = field(default_factory=FindingFilter)
    final: bool = False

    def update(
        self,
        findings: Sequence[ReviewFinding],
        members: Mapping[str, tuple[ReportedFinding, ...]],
        *,
        final: bool,
    ) -> None:
        self.findings = list(findings)
        self.members = {**self.members, **members}
        self.final = final

    def by_id(self, finding_id: str) -> ReviewFinding | None:
        return next((f for f in self.findings if f.id == finding_id), None)

    def triage(self, finding_id: str) -> Triage:
        if finding_id in self.dismissals:
            return Triage.DISMISSED
        if finding_id in self.accepted:
            return Triage.ACCEPTED
        return Triage.OPEN

    def dismissal(self, finding_id: str) -> Dismissal | None:
        return self.dismissals.get(finding_id)

    def toggle_accepted(self, finding_id: str) -> bool:
        """Mark or unmark; returns whether the finding is accepted now."""
        if finding_id in self.accepted:
            self.accepted.discard(finding_id)
            return False
        self.accepted.add(finding_id)
        return True

    def reviewers(self) -> list[str]:
        return sorted({r for f in self.findings for r in f.reviewers})

    def open_count(self) -> int:
        return sum(1 for f in self.findings if f.id not in self.dismissals)

    def visible(self) -> list[ReviewFinding]:
        return [f for f in self.findings if self._shows(f)]

    def _shows(self, f: ReviewFinding) -> bool:
        flt = self.filter
        if f.id in self.dismissals and not flt.show_dismissed:
            return False
        if flt.min_severity is not None and not f.severity.at_least(flt.min_severity):
            return False
        if flt.reviewer and flt.reviewer not in f.reviewers:
            return False
        if flt.path.strip() and not _path_matches(f.path, flt.path.strip()):
            return False
        words = flt.text.lower().split()
        if words:
            haystack = self._haystack(f)
            return all(w in haystack for w in words)
        return True

    def _haystack(self, f: ReviewFinding) -> str:
        parts = [f.title, f.body, f.category, f.path, f.evidence or "", f.suggestion or ""]
        parts += f.reviewers
        for m in self.members.get(f.id, ()):
            parts += [m.finding.title, m.finding.body]
        return "\n".join(parts).lower()


def _path_matches(path: str, pattern: str) -> bool:
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(path, f"*{pattern}*")
    return pattern.lower() in path.lower()


def exported_review(
    review: Review,
    members: Mapping[str, tuple[ReportedFinding, ...]],
    dismissals: Dismissals,
    *,
    show_dismissed: bool,
) -> Review:
    """The review as ``council review`` would now print it: dismissed findings moved to
    ``rejected`` with their reasons (unless ``--show-dismissed``), ranks and counts redone."""
    if show_dismissed:
        return review
    reasons = dismissal_reasons(review.findings, dismissals)
    if not reasons:
        return review
    # Every dismissed finding needs its members, or it would vanish from the review.
    complete = {
        f.id: members.get(f.id) or _members_of(f) for f in review.findings if f.id in reasons
    }
    merged = reject(
        MergeResult(findings=review.findings, rejected=review.rejected, members=complete), reasons
    )
    return review.model_copy(
        update={
            "findings": merged.findings,
            "rejected": merged.rejected,
            "summary": summarise(merged.findings, review.summary.fail_on),
        }
    )


def _members_of(finding: ReviewFinding) -> tuple[ReportedFinding, ...]:
    plain = Finding.model_validate({k: getattr(finding, k) for k in Finding.model_fields})
    return tuple(ReportedFinding(reviewer=r, finding=plain) for r in finding.reviewers)
