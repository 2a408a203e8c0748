"""Turn what every reviewer reported into one ranked list of ReviewFindings.

Pure: no I/O. The diff is reached only through the `LineLocator` protocol so this
module never depends on how line maps are built. Stages, in order:

1. anchor each finding against the diff and filter it by `FilterMode`
   (reviewdog's modes: added, diff_context, file, nofilter);
2. keep each reviewer's top-N (`reviewer_limits`, an agent's max_findings);
3. cluster findings about the same problem, across and within reviewers;
4. merge each cluster into one ReviewFinding (noisy-or confidence) and apply
   `min_confidence`;
5. score, rank and cut at `max_findings`.

Every input ends in exactly one place (DESIGN.md's conservation rule): a member
of a ReviewFinding (`MergeResult.members`) or a RejectedFinding with a reason.
The output depends only on the *set* of inputs, never on their order.
"""

from __future__ import annotations

import gc
import hashlib
import operator
import re
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

from coordinator.findings import (
    Anchor,
    Finding,
    RejectedFinding,
    ReportedFinding,
    ReviewFinding,
    Severity,
)
from coordinator.words import collapse, overlaps, title_words, word_stems


class LineLocator(Protocol):
    """What merge needs from the diff's line map."""

    def locate(self, path: str, line: int) -> Anchor: ...

    def new_line_text(self, path: str, line: int) -> str | None: ...


class FilterMode(StrEnum):
    ADDED = "added"
    DIFF_CONTEXT = "diff_context"
    FILE = "file"
    NOFILTER = "nofilter"


SEVERITY_WEIGHT: Mapping[Severity, float] = {
    Severity.CRITICAL: 1.0,
    Severity.HIGH: 0.8,
    Severity.MEDIUM: 0.5,
    Severity.LOW: 0.25,
    Severity.INFO: 0.1,
}

# Which anchors each mode keeps, and the score factor of each. A penalised anchor is
# also a lower tier: findings on the diff always rank above those merely in a changed
# file (diff_context) or outside the diff (nofilter), whatever their scores.
ANCHOR_FACTOR: Mapping[FilterMode, Mapping[Anchor, float]] = {
    FilterMode.ADDED: {Anchor.ADDED: 1.0},
    FilterMode.DIFF_CONTEXT: {Anchor.ADDED: 1.0, Anchor.CONTEXT: 1.0, Anchor.FILE: 0.6},
    FilterMode.FILE: {Anchor.ADDED: 1.0, Anchor.CONTEXT: 1.0, Anchor.FILE: 1.0},
    FilterMode.NOFILTER: {
        Anchor.ADDED: 1.0,
        Anchor.CONTEXT: 1.0,
        Anchor.FILE: 1.0,
        Anchor.OUTSIDE: 0.3,
    },
}

AGREEMENT_STEP = 0.25
MAX_AGREEMENT_BONUS = 1.75
MAX_MERGED_CONFIDENCE = 0.99

# Two findings this many lines apart (or closer) may be about the same problem.
NEAR_LINES = 3
# Calibrated in tests/test_merge.py on paraphrases vs. different problems on one line.
TITLE_SIMILARITY = 0.3
TEXT_SIMILARITY = 0.4
SURE_SIMILARITY = 0.5
# Bounds the locate() calls a finding spanning a whole file can cost.
MAX_RANGE_SCAN = 1000

_ANCHOR_PREFERENCE = {a: i for i, a in enumerate((Anchor.ADDED, Anchor.CONTEXT, Anchor.FILE))}


@dataclass(frozen=True)
class MergeOptions:
    filter_mode: FilterMode = FilterMode.DIFF_CONTEXT
    min_confidence: float = 0.0
    max_findings: int | None = None
    reviewer_weights: Mapping[str, float] = field(default_factory=dict)
    reviewer_limits: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence must be in 0..1, got {self.min_confidence}")
        if self.max_findings is not None and self.max_findings < 0:
            raise ValueError(f"max_findings must be >= 0, got {self.max_findings}")
        for name, weight in self.reviewer_weights.items():
            if weight < 0:
                raise ValueError(f"weight of reviewer {name!r} must be >= 0, got {weight}")
        for name, limit in self.reviewer_limits.items():
            if limit < 0:
                raise ValueError(f"max_findings of reviewer {name!r} must be >= 0, got {limit}")


@dataclass(frozen=True)
class MergeResult:
    findings: list[ReviewFinding]
    rejected: list[RejectedFinding]
    # ReviewFinding.id -> the reported findings merged into it (reviewers lists names
    # once; this keeps every member, e.g. for the verifier or the TUI).
    members: Mapping[str, tuple[ReportedFinding, ...]] = field(default_factory=dict)

    def member_count(self) -> int:
        """How many reported findings this result accounts for (must equal the input count)."""
        return sum(len(m) for m in self.members.values()) + len(self.rejected)


# -- anchoring and filtering -------------------------------------------------------


def anchor_finding(finding: Finding, locator: LineLocator) -> Anchor:
    """Best anchor over the finding's range line..end_line.

    A finding whose first line sits outside the hunks but whose range reaches into
    them is about changed code, so it takes the best anchor in its range; one that
    starts in the diff and runs past it keeps its line's anchor. Line and end_line
    stay as reported: the suggestion replaces exactly that range.
    """
    return _range_anchor(locator, finding.path, finding.line, finding.last_line)


def _range_anchor(locator: LineLocator, path: str, line: int, last_line: int) -> Anchor:
    best = locator.locate(path, line)
    if last_line == line:  # most findings: nothing to scan
        return best
    last = min(last_line, line + MAX_RANGE_SCAN)
    best_rank = _anchor_rank(best)
    line += 1
    while best_rank and line <= last:  # rank 0: added, nothing better
        candidate = locator.locate(path, line)
        rank = _anchor_rank(candidate)
        if rank < best_rank:
            best, best_rank = candidate, rank
        line += 1
    return best


def _anchor_rank(anchor: Anchor) -> int:
    return _ANCHOR_PREFERENCE.get(anchor, len(_ANCHOR_PREFERENCE))


def _location(finding: Finding) -> str:
    if finding.last_line != finding.line:
        return f"{finding.path}:{finding.line}-{finding.last_line}"
    return f"{finding.path}:{finding.line}"


def _filter_reason(finding: Finding, anchor: Anchor, mode: FilterMode) -> str | None:
    if anchor in ANCHOR_FACTOR[mode]:
        return None
    if anchor is Anchor.OUTSIDE:
        return f"location outside the diff ({_location(finding)})"
    if mode is FilterMode.ADDED:
        return f"line not on an added line ({_location(finding)} is {anchor}; filter=added)"
    return f"location not kept by filter={mode} ({_location(finding)} is {anchor})"


# -- candidates ----------------------------------------------------------------------

# Total order over reported findings: severity, confidence, reviewer first (the
# representative rule), then every other field so ties never depend on input order.
_Key = tuple[int, float, str, str, int, int, bool, str, str, str, str, bool, str, bool]


def _member_key(reviewer: str, f: Finding) -> _Key:
    return (
        f.severity.order,
        -f.confidence,
        reviewer,
        f.path,
        f.line,
        f.last_line,
        f.end_line is None,
        f.category,
        f.title,
        f.body,
        f.suggestion or "",
        f.suggestion is None,
        f.evidence or "",
        f.evidence is None,
    )


class _Candidate:
    """A reported finding on its way through merge: what merge reads of it, copied.

    Made in input order, the order the findings sit in memory. The stages after visit
    them by file and line, then by rank: reading a pydantic model there (the object,
    its ``__dict__``, the value) misses the CPU cache at each step, which cost a big
    merge more than the work, so each finding is read here once. Slots keep 100,000
    of these small.

    The body is tokenised only when compared: most findings of a big review have no
    neighbour within NEAR_LINES. Reviewers reuse titles, so their words are cached.
    """

    __slots__ = (
        "_text_tokens",
        "anchor",
        "category",
        "confidence",
        "fields",
        "last_line",
        "line",
        "path",
        "rank_key",
        "reported",
        "reviewer",
        "severity",
        "title",
        "title_tokens",
    )

    def __init__(self, reported: ReportedFinding, anchor: Anchor) -> None:
        f = reported.finding
        self.reported = reported
        self.fields = fields = _finding_values(f.__dict__)
        self.reviewer = reviewer = reported.reviewer
        self.path = fields[_PATH]
        self.line, self.last_line = fields[_LINE], f.last_line
        self.severity = severity = fields[_SEVERITY]
        self.confidence = confidence = fields[_CONFIDENCE]
        # The start of `key`, which nearly always settles the order within a cluster.
        self.rank_key = (severity.order, -confidence, reviewer)
        self.anchor = anchor
        self.category = _normal_category(fields[_CATEGORY])
        self.title, self.title_tokens = title_words(fields[_TITLE])
        self._text_tokens: frozenset[str] | None = None

    @property
    def key(self) -> _Key:
        # Computed when sorted, not stored: few candidates are ever sorted by it.
        return _member_key(self.reviewer, self.reported.finding)

    @property
    def text_tokens(self) -> frozenset[str]:
        if self._text_tokens is None:
            self._text_tokens = self.title_tokens | word_stems(self.fields[_BODY])
        return self._text_tokens


@lru_cache(maxsize=1 << 10)
def _normal_category(category: str) -> str:
    return category.strip().lower()


# The results are not validated (model_construct): every field comes from a Finding
# that was validated when it was parsed, or is computed here with its declared type,
# and validating 100,000 of them again would be most of a big merge's time.

_FINDING_FIELDS = tuple(Finding.model_fields)
# The Finding fields' values, in order (only those, even from a subclass carrying more).
_finding_values = operator.itemgetter(*_FINDING_FIELDS)
_PATH, _LINE, _SEVERITY, _CATEGORY, _TITLE, _BODY, _CONFIDENCE, _EVIDENCE = map(
    _FINDING_FIELDS.index,
    ("path", "line", "severity", "category", "title", "body", "confidence", "evidence"),
)


def _reject(reported: ReportedFinding, reason: str) -> RejectedFinding:
    values = dict(zip(_FINDING_FIELDS, _finding_values(reported.finding.__dict__), strict=True))
    values["reviewer"], values["reason"] = reported.reviewer, reason
    return RejectedFinding.model_construct(**values)


def _anchored(
    reported: Sequence[ReportedFinding],
    locator: LineLocator,
    mode: FilterMode,
    rejected: list[RejectedFinding],
) -> list[_Candidate]:
    """Candidates of the findings `mode` keeps; the others go to ``rejected``."""
    candidates: list[_Candidate] = []
    kept_anchors = ANCHOR_FACTOR[mode]
    for r in reported:
        f = r.finding
        # Not memoised by range: a lookup costs about what a memo does, and only one
        # finding in nine of a big review repeats another's range exactly.
        anchor = _range_anchor(locator, f.path, f.line, f.last_line)
        if anchor in kept_anchors:
            candidates.append(_Candidate(r, anchor))
            continue
        reason = _filter_reason(f, anchor, mode)
        if reason is None:
            candidates.append(_Candidate(r, anchor))
        else:
            rejected.append(_reject(r, reason))
    return candidates


def _apply_reviewer_limits(
    candidates: list[_Candidate], limits: Mapping[str, int]
) -> tuple[list[_Candidate], list[RejectedFinding]]:
    if not limits:
        return candidates, []
    by_reviewer: dict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates:
        by_reviewer[c.reviewer].append(c)
    kept: list[_Candidate] = []
    rejected: list[RejectedFinding] = []
    for reviewer, group in by_reviewer.items():
        limit = limits.get(reviewer)
        if limit is None or len(group) <= limit:
            kept.extend(group)  # nothing to cut; clustering does not depend on order
            continue
        group.sort(key=_by_key)  # severity, then confidence, first
        kept.extend(group[:limit])
        rejected.extend(
            _reject(c.reported, f"over reviewer max_findings {limit} for {reviewer} (rank {i})")
            for i, c in enumerate(group[limit:], start=limit + 1)
        )
    return kept, rejected


# -- similarity and clustering ---------------------------------------------------------


def _similar_text(a: _Candidate, b: _Candidate) -> bool:
    """Whether two findings' words say the same thing.

    Title and body only: evidence is a quote of the code, which any two findings on
    the same line share, so it would merge different problems on one line.
    """
    return (
        a.title == b.title
        or overlaps(a.title_tokens, b.title_tokens, TITLE_SIMILARITY, SURE_SIMILARITY)
        or overlaps(a.text_tokens, b.text_tokens, TEXT_SIMILARITY, SURE_SIMILARITY)
    )


def _same_problem(a: _Candidate, b: _Candidate) -> bool:
    if a.path != b.path:
        return False
    # max(a.line, b.line) - min(a.last_line, b.last_line), without two builtin calls.
    gap = (a.line if a.line > b.line else b.line) - (
        a.last_line if a.last_line < b.last_line else b.last_line
    )  # <= 0: ranges overlap
    if gap > NEAR_LINES:
        return False
    if a.reviewer == b.reviewer:
        # One reviewer's separate findings on neighbouring lines are usually separate
        # instances ("unused x", "unused y"): merge only a restatement on the same lines.
        return gap <= 0 and _similar_text(a, b)
    # The cheap test first: the words are tokenised only when it does not settle it.
    return (gap <= 0 and a.category == b.category) or _similar_text(a, b)


def _cluster(candidates: list[_Candidate]) -> list[list[_Candidate]]:
    """Connected components of `_same_problem`: a partition, so order-independent.

    Every pair the sweep below must look at is looked at whatever the input order
    (findings starting on one line are all compared), and `_same_problem` is
    symmetric, so the components do not depend on the order either.
    """
    return list(_components(candidates))


def _components(candidates: list[_Candidate]) -> Iterator[list[_Candidate]]:
    """`_cluster`'s components, members sorted by key, each as soon as the sweep closes it.

    Whatever is worked out from a component is best worked out then, while its
    members are still in the CPU cache.
    """
    # Only findings on one file and within NEAR_LINES of each other can be the same
    # problem: bucket by file and sweep each bucket in line order (never all pairs).
    # The sweep keeps the open components: per component, its members whose range
    # still reaches the current line. A new finding is compared with each open
    # component's members only until one matches — then it joins the whole
    # component — so findings crowded onto a few lines, most of them one problem,
    # cost about one comparison per component instead of one per neighbour.
    by_path: dict[str, list[_Candidate]] = defaultdict(list)
    for c in candidates:
        by_path[c.path].append(c)
    same_problem = _same_problem
    for bucket in by_path.values():
        if len(bucket) == 1:
            yield bucket
            continue
        bucket.sort(key=_by_line)
        # Per open component: [its members still open, in line order; all its members].
        open_components: list[list[list[_Candidate]]] = []
        for b in bucket:
            ended = b.line - NEAR_LINES - 1  # a range ending here is out of b's reach
            into: list[list[_Candidate]] | None = None  # the first component b joins
            kept = 0  # open_components[:kept]: those still open, b's own not yet among them
            for component in open_components:
                members = component[0]
                drop = 0
                while drop < len(members) and members[drop].last_line <= ended:
                    drop += 1  # ranges end in about line order: drop the ended
                if drop:
                    if drop == len(members):
                        yield _by_member_key(component[1])
                        continue
                    del members[:drop]
                for a in reversed(members):  # nearest first: the likeliest match
                    if a.last_line > ended and same_problem(a, b):
                        if into is not None:  # b links two components: they become one
                            into[0] = sorted(into[0] + members, key=_by_line)
                            if len(into[1]) < len(component[1]):  # the smaller into the larger
                                into[1], component[1] = component[1], into[1]
                            into[1] += component[1]
                            break
                        into = component
                        open_components[kept] = component
                        kept += 1
                        break
                else:
                    open_components[kept] = component
                    kept += 1
            del open_components[kept:]
            if into is None:
                open_components.append([[b], [b]])
            else:
                into[0].append(b)
                into[1].append(b)
        for component in open_components:
            yield _by_member_key(component[1])
        for c in bucket:  # the words are not compared again: let the next file reuse them
            c._text_tokens = None


_by_line = operator.attrgetter("line")


def _by_member_key(group: list[_Candidate]) -> list[_Candidate]:
    """``group`` sorted by `_member_key`, which is built only if its start ties."""
    if len(group) == 1:
        return group
    if len(group) == 2:  # the most common by far: one comparison
        a, b = group
        if a.rank_key != b.rank_key:
            return group if a.rank_key < b.rank_key else [b, a]
    elif len({c.rank_key for c in group}) == len(group):
        return sorted(group, key=_by_rank_key)  # no ties: the same order
    return sorted(group, key=_by_key)


_by_rank_key = operator.attrgetter("rank_key")


def _by_key(c: _Candidate) -> _Key:
    return c.key


# -- merging, fingerprints, scores ------------------------------------------------------


def combine_confidence(by_reviewer: Mapping[str, float]) -> float:
    """Noisy-or over distinct reviewers, capped below certainty, never below the best one."""
    if not by_reviewer:
        return 0.0
    miss = 1.0
    for reviewer in sorted(by_reviewer):  # fixed order: float products are order-sensitive
        miss *= 1.0 - by_reviewer[reviewer]
    best = max(by_reviewer.values())
    return round(max(best, min(MAX_MERGED_CONFIDENCE, 1.0 - miss)), 4)


def agreement_bonus(reviewer_count: int) -> float:
    return min(MAX_AGREEMENT_BONUS, 1.0 + AGREEMENT_STEP * (reviewer_count - 1))


_LINE_REF = re.compile(r"\b(?:lines?|ln|l)\.?\s*#?\d+(?:\s*(?:-|\u2013|to|and)\s*\d+)?\b")
_PATH_LINE_REF = re.compile(r"(\.\w+):\d+(?:[:-]\d+)?\b")


def normalise_fingerprint_text(text: str) -> str:
    """Lowercase, drop line references ("line 12", "x.py:12"), collapse whitespace."""
    text = text.lower()
    text = _LINE_REF.sub("line", text)
    if ":" in text:  # a path:line reference needs one; most quoted code has none
        text = _PATH_LINE_REF.sub(r"\1", text)
    return collapse(text)


def fingerprint(finding: Finding, code_line: str | None) -> str:
    """Stable id from what the finding is about, not where: it survives code moving."""
    category = finding.category.strip().lower()
    return _fingerprint(finding.path, category, finding.evidence or finding.title, code_line)


def _fingerprint(path: str, category: str, about: str, code_line: str | None) -> str:
    parts = (path, category, normalise_fingerprint_text(about), collapse(code_line or ""))
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is several times slower
class _Cluster:
    """A component, summed up when the sweep closes it (its members still in the cache)."""

    members: list[_Candidate]  # sorted by key; members[0] is the representative
    reviewers: tuple[str, ...]
    severity: Severity
    confidence: float
    representative: _Candidate
    fingerprint: str  # its id, unless another cluster has the same fingerprint
    reported: tuple[ReportedFinding, ...]  # the members as reported

    @property
    def order_key(self) -> tuple[_Key, ...]:
        return tuple(m.key for m in self.members)

    @classmethod
    def of(cls, members: list[_Candidate], locator: LineLocator) -> _Cluster:
        first = members[0]
        fields = first.fields
        code_line = locator.new_line_text(first.path, first.line)
        about = fields[_EVIDENCE] or fields[_TITLE]
        fingerprint = _fingerprint(first.path, first.category, about, code_line)
        if len(members) == 1:  # a third of a big review's clusters: nothing to combine
            best = {first.reviewer: max(first.confidence, 0.0)}
            reviewers: tuple[str, ...] = (first.reviewer,)
        else:
            best = {}
            for m in members:
                name = m.reviewer
                best[name] = max(m.confidence, best.get(name, 0.0))
            reviewers = tuple(sorted(best))
        confidence = combine_confidence(best)
        reported = tuple([m.reported for m in members])
        return cls(members, reviewers, first.severity, confidence, first, fingerprint, reported)


def _assign_ids(clusters: list[_Cluster]) -> list[str]:
    """The clusters' fingerprints; colliding ones get a salted hash, in canonical order."""
    base = [c.fingerprint for c in clusters]
    used = set(base)
    if len(used) == len(base):
        return base  # no collisions: the usual case, no need to group by id
    ids = list(base)
    by_base: dict[str, list[int]] = defaultdict(list)
    for i, b in enumerate(base):
        by_base[b].append(i)
    for b in sorted(b for b, same in by_base.items() if len(same) > 1):
        indices = sorted(by_base[b], key=lambda i: clusters[i].order_key)
        for i in indices[1:]:
            salt = 1
            while (candidate := hashlib.sha256(f"{b}#{salt}".encode()).hexdigest()[:16]) in used:
                salt += 1
            used.add(candidate)
            ids[i] = candidate
    return ids


def _score(cluster: _Cluster, weights: Mapping[str, float], anchor_factor: float) -> float:
    weight = max(weights.get(r, 1.0) for r in cluster.reviewers) if weights else 1.0
    score = (
        SEVERITY_WEIGHT[cluster.severity]
        * cluster.confidence
        * agreement_bonus(len(cluster.reviewers))
        * weight
        * anchor_factor
    )
    return round(score, 4)


def _confidence_reason(confidence: float, minimum: float) -> str:
    # Two decimals unless that would print "0.50 below 0.50".
    shown = f"{confidence:.2f}" if round(confidence, 2) < minimum else f"{confidence:.4f}"
    return f"confidence {shown} below --min-confidence {minimum:.2f}"


def _review_finding(cluster: _Cluster, finding_id: str, rank: int, score: float) -> ReviewFinding:
    first = cluster.representative
    values = dict(zip(_FINDING_FIELDS, first.fields, strict=True))
    values["severity"], values["confidence"] = cluster.severity, cluster.confidence
    values["id"], values["rank"], values["score"] = finding_id, rank, score
    values["reviewers"], values["anchor"], values["verdict"] = (
        list(cluster.reviewers),
        first.anchor,
        None,
    )
    return ReviewFinding.model_construct(**values)


# -- entry point -----------------------------------------------------------------------

_first = operator.itemgetter(0)


def merge_findings(
    reported: Sequence[ReportedFinding], locator: LineLocator, options: MergeOptions
) -> MergeResult:
    with _cyclic_gc_paused():
        return _merge(reported, locator, options)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while merge runs.

    Merge builds a few objects per finding and no reference cycles, and it runs over
    a heap that holds every reported finding: each full collection the allocations
    trigger walks all of it for nothing (a third of a 100,000-finding merge). Memory
    is still freed by reference counting; the collector is back on afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _merge(
    reported: Sequence[ReportedFinding], locator: LineLocator, options: MergeOptions
) -> MergeResult:
    rejected: list[RejectedFinding] = []
    candidates = _anchored(reported, locator, options.filter_mode, rejected)
    candidates, over_limit = _apply_reviewer_limits(candidates, options.reviewer_limits)
    rejected.extend(over_limit)

    clusters = [_Cluster.of(g, locator) for g in _components(candidates)]
    # Ids before any cut, so --min-confidence / --max-findings never change an id.
    ids = _assign_ids(clusters)

    # Sort keys built in one pass over the clusters: by tier, score, severity, place, id.
    factors = ANCHOR_FACTOR[options.filter_mode]
    ranked: list[tuple[tuple[bool, float, int, str, int, str], _Cluster, float]] = []
    for cluster, finding_id in zip(clusters, ids, strict=True):
        if cluster.confidence < options.min_confidence:
            reason = _confidence_reason(cluster.confidence, options.min_confidence)
            rejected.extend(_reject(m.reported, reason) for m in cluster.members)
            continue
        first = cluster.representative
        factor = factors[first.anchor]
        score = _score(cluster, options.reviewer_weights, factor)
        tier = factor < 1.0
        order = (tier, -score, cluster.severity.order, first.path, first.line, finding_id)
        ranked.append((order, cluster, score))
    ranked.sort(key=_first)  # ids are unique: the keys never tie

    findings: list[ReviewFinding] = []
    members: dict[str, tuple[ReportedFinding, ...]] = {}
    for rank, (order, cluster, score) in enumerate(ranked, start=1):
        finding_id = order[-1]
        if options.max_findings is not None and rank > options.max_findings:
            reason = f"over --max-findings {options.max_findings} (rank {rank})"
            rejected.extend(_reject(m.reported, reason) for m in cluster.members)
            continue
        findings.append(_review_finding(cluster, finding_id, rank, score))
        members[finding_id] = cluster.reported

    rejected.sort(key=lambda r: (r.path, r.line, _member_key(r.reviewer, r), r.reason))
    return MergeResult(findings=findings, rejected=rejected, members=members)
