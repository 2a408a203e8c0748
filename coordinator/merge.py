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
import heapq
import re
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Any, Protocol

from coordinator.findings import (
    Anchor,
    Finding,
    RejectedFinding,
    ReportedFinding,
    ReviewFinding,
    Severity,
)


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
    best = locator.locate(finding.path, finding.line)
    last = min(finding.last_line, finding.line + MAX_RANGE_SCAN)
    line = finding.line + 1
    while best is not Anchor.ADDED and line <= last:
        candidate = locator.locate(finding.path, line)
        if _anchor_rank(candidate) < _anchor_rank(best):
            best = candidate
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
    """A reported finding on its way through merge; its words are read only when compared.

    Most findings of a big review have no neighbour within NEAR_LINES, so their
    title and body are never tokenised; slots keep 100,000 of these small.
    """

    __slots__ = (
        "_text_tokens",
        "_title_tokens",
        "anchor",
        "category",
        "key",
        "last_line",
        "line",
        "path",
        "reported",
        "reviewer",
    )

    def __init__(self, reported: ReportedFinding, anchor: Anchor) -> None:
        f = reported.finding
        self.reported = reported
        self.reviewer = reported.reviewer
        self.path, self.line, self.last_line = f.path, f.line, f.last_line
        self.anchor = anchor
        self.key = _member_key(reported.reviewer, f)
        self.category = f.category.strip().lower()
        self._title_tokens: frozenset[str] | None = None
        self._text_tokens: frozenset[str] | None = None

    @classmethod
    def of(cls, reported: ReportedFinding, anchor: Anchor) -> _Candidate:
        return cls(reported, anchor)

    @property
    def title(self) -> str:
        return _normal_title(self.reported.finding.title)

    @property
    def title_tokens(self) -> frozenset[str]:
        if self._title_tokens is None:
            self._title_tokens = _tokens(self.reported.finding.title)
        return self._title_tokens

    @property
    def text_tokens(self) -> frozenset[str]:
        if self._text_tokens is None:
            self._text_tokens = self.title_tokens | _tokens(self.reported.finding.body)
        return self._text_tokens


_FINDING_FIELDS = tuple(Finding.model_fields)


def _finding_fields(finding: Finding) -> dict[str, Any]:
    # Only the Finding fields, even if a caller passed a subclass carrying more.
    values = finding.__dict__
    return {name: values[name] for name in _FINDING_FIELDS}


# The results are built with model_construct: every field comes from a Finding that
# was validated when it was parsed, or is computed here with its declared type, and
# validating 100,000 of them again would be most of a big merge's time.


def _reject(reported: ReportedFinding, reason: str) -> RejectedFinding:
    fields = _finding_fields(reported.finding)
    return RejectedFinding.model_construct(**fields, reviewer=reported.reviewer, reason=reason)


def _apply_reviewer_limits(
    candidates: list[_Candidate], limits: Mapping[str, int]
) -> tuple[list[_Candidate], list[RejectedFinding]]:
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

_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    _WORD.findall(
        """a an and are as at be been being but by can could do does for from has have here
    if in into is issue it its likely may maybe might more not of on or possible possibly
    potential potentially problem should than that the then there
    these this those to use used uses using very via was were when where which while
    will with would"""
    )
)
_SUFFIXES = (("ies", "y"), ("ing", ""), ("ed", ""), ("s", ""))


@lru_cache(maxsize=1 << 16)  # reviewers' vocabulary is small; findings repeat its words
def _stem(word: str) -> str:
    # Just enough stemming that "awaited"/"await" and "closes"/"closing" meet.
    for suffix, replacement in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + replacement
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


@lru_cache(maxsize=1 << 12)  # titles repeat across reviewers and chunks
def _tokens(text: str) -> frozenset[str]:
    """Stems of the distinct words (runs of [a-z0-9] in the lowercased text) that are
    longer than one character and not stopwords.

    The split runs in C: every byte but [a-z0-9] becomes a space (non-ASCII
    characters, encoded as "?", are separators as in ``_WORD``); one-character words
    are dropped along with the stopwords by a set difference.
    """
    ascii_text = text.lower().encode("ascii", "replace").translate(_WORD_BYTES)
    words = set(ascii_text.decode("ascii").split())
    words -= _DROPPED_WORDS
    return frozenset(map(_stem, words))


_WORD_BYTES = bytes(b if 97 <= b <= 122 or 48 <= b <= 57 else 32 for b in range(256))
_DROPPED_WORDS = _STOPWORDS | frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _overlaps(a: frozenset[str], b: frozenset[str], threshold: float) -> bool:
    """Token Jaccard >= threshold, on at least two shared words unless it is >= 0.5.

    One shared word is chance in short titles ("Unused import" / "Unused variable").
    """
    shared, union = len(a & b), len(a | b)
    if not union:
        return False
    jaccard = shared / union
    return jaccard >= SURE_SIMILARITY or (shared >= 2 and jaccard >= threshold)


def _similar_text(a: _Candidate, b: _Candidate) -> bool:
    """Whether two findings' words say the same thing.

    Title and body only: evidence is a quote of the code, which any two findings on
    the same line share, so it would merge different problems on one line.
    """
    return (
        a.title == b.title
        or _overlaps(a.title_tokens, b.title_tokens, TITLE_SIMILARITY)
        or _overlaps(a.text_tokens, b.text_tokens, TEXT_SIMILARITY)
    )


def _same_problem(a: _Candidate, b: _Candidate) -> bool:
    if a.path != b.path:
        return False
    gap = max(a.line, b.line) - min(a.last_line, b.last_line)  # <= 0: ranges overlap
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
    ordered = candidates
    parent = list(range(len(ordered)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Only findings on one file and within NEAR_LINES of each other can be the same
    # problem: bucket by file and sweep each bucket in line order (never all pairs).
    # The sweep keeps the open components: per component, its members whose range
    # still reaches the current line. A new finding is compared with each open
    # component's members only until one matches — then it joins the whole
    # component — so findings crowded onto a few lines, most of them one problem,
    # cost about one comparison per component instead of one per neighbour.
    starts = [c.line for c in ordered]
    reach = [c.last_line + NEAR_LINES for c in ordered]
    by_path: dict[str, list[int]] = defaultdict(list)
    for i, c in enumerate(ordered):
        by_path[c.path].append(i)
    same_problem = _same_problem
    for indices in by_path.values():
        if len(indices) == 1:
            continue
        indices.sort(key=starts.__getitem__)
        open_members: dict[int, deque[int]] = {}  # root -> members, in line order
        for j in indices:
            start, b = starts[j], ordered[j]
            joined: list[deque[int]] = []
            for root, members in list(open_members.items()):
                while members and reach[members[0]] < start:
                    members.popleft()  # ranges end in about line order: drop the ended
                if not members:
                    del open_members[root]
                    continue
                for i in reversed(members):  # nearest first: the likeliest match
                    if reach[i] >= start and same_problem(ordered[i], b):
                        parent[root] = j
                        joined.append(open_members.pop(root))
                        break
            if len(joined) == 1:
                joined[0].append(j)
                open_members[j] = joined[0]
            else:
                merged = deque(heapq.merge(*joined, key=starts.__getitem__)) if joined else deque()
                merged.append(j)
                open_members[j] = merged

    groups: dict[int, list[_Candidate]] = defaultdict(list)
    for i, c in enumerate(ordered):
        groups[find(i)].append(c)
    return [sorted(g, key=_by_key) if len(g) > 1 else g for g in groups.values()]


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


def _collapse(text: str) -> str:
    return " ".join(text.split())  # runs of whitespace to one space, none at the ends


@lru_cache(maxsize=1 << 12)
def _normal_title(title: str) -> str:
    return _collapse(title.lower())


def normalise_fingerprint_text(text: str) -> str:
    """Lowercase, drop line references ("line 12", "x.py:12"), collapse whitespace."""
    text = text.lower()
    text = _LINE_REF.sub("line", text)
    text = _PATH_LINE_REF.sub(r"\1", text)
    return _collapse(text)


def fingerprint(finding: Finding, code_line: str | None) -> str:
    """Stable id from what the finding is about, not where: it survives code moving."""
    parts = (
        finding.path,
        finding.category.strip().lower(),
        normalise_fingerprint_text(finding.evidence or finding.title),
        _collapse(code_line or ""),
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is several times slower
class _Cluster:
    members: tuple[_Candidate, ...]  # sorted by key; members[0] is the representative
    reviewers: tuple[str, ...]
    severity: Severity
    confidence: float
    representative: _Candidate

    @property
    def order_key(self) -> tuple[_Key, ...]:
        return tuple(m.key for m in self.members)

    @classmethod
    def of(cls, members: list[_Candidate]) -> _Cluster:
        best: dict[str, float] = {}
        for m in members:
            name, conf = m.reviewer, m.reported.finding.confidence
            best[name] = max(conf, best.get(name, 0.0))
        return cls(
            tuple(members),
            tuple(sorted(best)),
            members[0].reported.finding.severity,
            combine_confidence(best),
            members[0],
        )


def _assign_ids(clusters: list[_Cluster], locator: LineLocator) -> list[str]:
    """Fingerprint every cluster; colliding ones get a salted hash, in canonical order."""
    base: list[str] = []
    for c in clusters:
        f = c.representative.reported.finding
        base.append(fingerprint(f, locator.new_line_text(f.path, f.line)))
    ids = list(base)
    used = set(base)
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


def _score(cluster: _Cluster, options: MergeOptions) -> float:
    weight = max(options.reviewer_weights.get(r, 1.0) for r in cluster.reviewers)
    anchor_factor = ANCHOR_FACTOR[options.filter_mode][cluster.representative.anchor]
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
    fields = _finding_fields(cluster.representative.reported.finding)
    fields.update(severity=cluster.severity, confidence=cluster.confidence)
    return ReviewFinding.model_construct(
        **fields,
        id=finding_id,
        rank=rank,
        score=score,
        reviewers=list(cluster.reviewers),
        anchor=cluster.representative.anchor,
        verdict=None,
    )


# -- entry point -----------------------------------------------------------------------


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
    candidates: list[_Candidate] = []
    # Reviewers that agree report the same lines: locate each range once.
    anchors: dict[tuple[str, int, int], Anchor] = {}
    kept_anchors = ANCHOR_FACTOR[options.filter_mode]
    for r in reported:
        f = r.finding
        where = (f.path, f.line, f.last_line)
        anchor = anchors.get(where)
        if anchor is None:
            anchor = anchors[where] = anchor_finding(f, locator)
        if anchor in kept_anchors:
            candidates.append(_Candidate(r, anchor))
            continue
        reason = _filter_reason(f, anchor, options.filter_mode)
        if reason is None:
            candidates.append(_Candidate(r, anchor))
        else:
            rejected.append(_reject(r, reason))

    candidates, over_limit = _apply_reviewer_limits(candidates, options.reviewer_limits)
    rejected.extend(over_limit)

    clusters = [_Cluster.of(g) for g in _cluster(candidates)]
    # Ids before any cut, so --min-confidence / --max-findings never change an id.
    ids = _assign_ids(clusters, locator)

    scored: list[tuple[_Cluster, str, float]] = []
    for cluster, finding_id in zip(clusters, ids, strict=True):
        if cluster.confidence < options.min_confidence:
            reason = _confidence_reason(cluster.confidence, options.min_confidence)
            rejected.extend(_reject(m.reported, reason) for m in cluster.members)
        else:
            scored.append((cluster, finding_id, _score(cluster, options)))

    anchor_factors = ANCHOR_FACTOR[options.filter_mode]
    scored.sort(
        key=lambda t: (
            anchor_factors[t[0].representative.anchor] < 1.0,
            -t[2],
            t[0].severity.order,
            t[0].representative.reported.finding.path,
            t[0].representative.reported.finding.line,
            t[1],
        )
    )

    findings: list[ReviewFinding] = []
    members: dict[str, tuple[ReportedFinding, ...]] = {}
    for rank, (cluster, finding_id, score) in enumerate(scored, start=1):
        if options.max_findings is not None and rank > options.max_findings:
            reason = f"over --max-findings {options.max_findings} (rank {rank})"
            rejected.extend(_reject(m.reported, reason) for m in cluster.members)
            continue
        findings.append(_review_finding(cluster, finding_id, rank, score))
        members[finding_id] = tuple(m.reported for m in cluster.members)

    rejected.sort(key=lambda r: (r.path, r.line, _member_key(r.reviewer, r), r.reason))
    return MergeResult(findings=findings, rejected=rejected, members=members)
