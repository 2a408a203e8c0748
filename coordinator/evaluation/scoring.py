"""Score one finished Review against a case's golden issues. Pure.

Rows, each a set of findings matched on its own (``matching.match``):

- one per reviewer of the roster: the findings it answered over all its sessions,
  as answered — before merge, the diff filter, the mechanical checks and the
  verifier — so a reviewer is scored alone, on its own locations, duplicates and
  findings off the diff included;
- ``merged``: the ranked review as merge (and its mechanical checks) produced it:
  ``findings``, plus those the verifier refuted. ``coordinator.verify`` moves a
  refuted finding to ``rejected`` as one entry per reviewer that reported it, all
  with the same reason, representative first; each such group counts once, at its
  first entry.
- ``verified`` (only when the verify stage is on): ``findings`` without any whose
  verdict is ``refuted`` (after the verify stage, none are left there).

A refuted entry in ``rejected`` is recognised by its reason (``refuted by
verifier: ...``) or by a ``verdict`` attribute; a verdict may be a plain string or
an object (or mapping) carrying one (``"confirmed"``, ``"refuted"``, ``"uncertain"``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from coordinator.evaluation.dataset import GoldenIssue
from coordinator.evaluation.matching import Matching, Pair, candidate_pairs, match
from coordinator.evaluation.metrics import Counts
from coordinator.findings import Finding, RejectedFinding
from coordinator.review import Review
from coordinator.verify import REFUTED_REASON

REFUTED = "refuted"

# What a judge verdict is keyed by: a golden issue's index and a finding's content.
FindingKey = tuple[str, int, int, str, str]
Accept = Callable[[int, Finding], bool]


class RowKind(StrEnum):
    REVIEWER = "reviewer"
    MERGED = "merged"
    VERIFIED = "verified"


@dataclass(frozen=True)
class FindingSet:
    name: str
    kind: RowKind
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class ScoredRow:
    name: str
    kind: RowKind
    findings: tuple[Finding, ...]
    matching: Matching

    @property
    def counts(self) -> Counts:
        m = self.matching
        return Counts(m.true_positives, m.false_positives, m.false_negatives)


def verdict_of(item: object) -> str | None:
    """The verifier's verdict on a finding, lower-cased, whatever shape it is stored in."""
    value = getattr(item, "verdict", None)
    if value is None:
        return None
    if isinstance(value, Mapping):
        value = value.get("verdict")
    elif not isinstance(value, str):
        value = getattr(value, "verdict", value)
    return str(value).strip().lower() if value is not None else None


def finding_sets(
    review: Review, answers: Mapping[str, Sequence[Finding]], *, verified: bool
) -> list[FindingSet]:
    """The rows to score, in report order: reviewers (``answers``' order), merged, verified."""
    refuted_elsewhere = _one_per_group(r for r in review.rejected if refuted(r))
    sets = [
        FindingSet(name, RowKind.REVIEWER, tuple(findings)) for name, findings in answers.items()
    ]
    sets.append(
        FindingSet("merged", RowKind.MERGED, tuple(review.findings) + tuple(refuted_elsewhere))
    )
    if verified:
        kept = tuple(f for f in review.findings if verdict_of(f) != REFUTED)
        sets.append(FindingSet("verified", RowKind.VERIFIED, kept))
    return sets


def finding_key(finding: Finding) -> FindingKey:
    return (finding.path, finding.line, finding.last_line, finding.title, finding.body)


def judge_candidates(
    sets: Sequence[FindingSet], golden: Sequence[GoldenIssue], window: int
) -> list[tuple[int, Finding]]:
    """Every distinct (golden issue, finding) within the window in any row, for the judge."""
    seen: set[tuple[int, FindingKey]] = set()
    out: list[tuple[int, Finding]] = []
    for row in sets:
        for pair in candidate_pairs(golden, row.findings, window):
            finding = row.findings[pair.finding]
            key = (pair.golden, finding_key(finding))
            if key not in seen:
                seen.add(key)
                out.append((pair.golden, finding))
    return out


def score_sets(
    sets: Sequence[FindingSet],
    golden: Sequence[GoldenIssue],
    window: int,
    accept: Accept | None = None,
) -> list[ScoredRow]:
    return [
        ScoredRow(
            row.name,
            row.kind,
            row.findings,
            match(golden, row.findings, window, _pair_filter(accept, row.findings)),
        )
        for row in sets
    ]


def _pair_filter(
    accept: Accept | None, findings: Sequence[Finding]
) -> Callable[[Pair], bool] | None:
    if accept is None:
        return None
    judge = accept
    return lambda pair: judge(pair.golden, findings[pair.finding])


def refuted(item: RejectedFinding) -> bool:
    """A rejected entry the verifier put there."""
    return item.reason.startswith(REFUTED_REASON) or verdict_of(item) == REFUTED


def _one_per_group(items: Iterable[RejectedFinding]) -> list[Finding]:
    """The first entry of each refuted merged finding (its members share one reason)."""
    seen: set[object] = set()
    out: list[Finding] = []
    for item in items:
        key = getattr(item, "id", None) or item.reason
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out
