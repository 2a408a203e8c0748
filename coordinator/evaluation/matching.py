"""Which finding found which golden issue. Pure.

A finding is a *candidate* for a golden issue when both name the same path and the
finding's line range comes within ``window`` lines of the golden range: the gap
between the two ranges (0 when they overlap) is at most ``window``. An optional
``accept`` predicate (the judge model's verdict) can veto candidates.

Each golden issue matches at most one finding and each finding at most one golden
issue. Among the candidates the matching is a *maximum* one (as many golden issues
found as the candidates allow), and among those the one with the smallest total
distance: greedy-by-distance would let a finding that sits between two golden
issues take the nearer one and leave the other unmatched although a second finding
could have covered it. The result is deterministic for a given input order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

DEFAULT_LINE_WINDOW = 3


class Span(Protocol):
    """A located thing: a finding or a golden issue."""

    @property
    def path(self) -> str: ...

    @property
    def line(self) -> int: ...

    @property
    def last_line(self) -> int: ...


@dataclass(frozen=True, order=True)
class Pair:
    """A golden issue (index into the golden list) and a finding (index into the findings)."""

    distance: int
    golden: int
    finding: int


@dataclass(frozen=True)
class Matching:
    pairs: tuple[Pair, ...]  # matched pairs, by golden index
    missed: tuple[int, ...]  # golden issues no finding matched (false negatives)
    unmatched: tuple[int, ...]  # findings that matched no golden issue (false positives)

    @property
    def true_positives(self) -> int:
        return len(self.pairs)

    @property
    def false_positives(self) -> int:
        return len(self.unmatched)

    @property
    def false_negatives(self) -> int:
        return len(self.missed)


def distance(golden: Span, finding: Span) -> int | None:
    """Lines between the two ranges (0 when they overlap); None on different paths."""
    if golden.path != finding.path:
        return None
    return max(0, finding.line - golden.last_line, golden.line - finding.last_line)


def candidate_pairs(golden: Sequence[Span], findings: Sequence[Span], window: int) -> list[Pair]:
    """Every (golden, finding) within ``window`` lines on the same path, nearest first."""
    if window < 0:
        raise ValueError(f"line window must be >= 0, got {window}")
    pairs = []
    for g, issue in enumerate(golden):
        for f, finding in enumerate(findings):
            gap = distance(issue, finding)
            if gap is not None and gap <= window:
                pairs.append(Pair(gap, g, f))
    return sorted(pairs)


def match(
    golden: Sequence[Span],
    findings: Sequence[Span],
    window: int = DEFAULT_LINE_WINDOW,
    accept: Callable[[Pair], bool] | None = None,
) -> Matching:
    """The one-to-one matching described in the module docstring."""
    edges = [p for p in candidate_pairs(golden, findings, window) if accept is None or accept(p)]
    chosen = _min_cost_maximum_matching(len(golden), len(findings), edges)
    matched_golden = {p.golden for p in chosen}
    matched_findings = {p.finding for p in chosen}
    return Matching(
        pairs=tuple(sorted(chosen, key=lambda p: (p.golden, p.finding))),
        missed=tuple(g for g in range(len(golden)) if g not in matched_golden),
        unmatched=tuple(f for f in range(len(findings)) if f not in matched_findings),
    )


def _min_cost_maximum_matching(
    golden_count: int, finding_count: int, edges: Sequence[Pair]
) -> list[Pair]:
    """Successive shortest augmenting paths (Bellman-Ford over the residual graph).

    Each round finds the cheapest way to match one more golden issue, possibly
    re-assigning earlier matches along an alternating path; rounds stop when no
    unmatched finding can be reached. Sizes are a case's findings and golden
    issues (tens), so the O(V*E) rounds cost nothing worth optimising.
    """
    by_golden: list[list[Pair]] = [[] for _ in range(golden_count)]
    for edge in edges:
        by_golden[edge.golden].append(edge)
    finding_of: list[Pair | None] = [None] * golden_count  # golden -> its matched edge
    golden_of: list[Pair | None] = [None] * finding_count  # finding -> its matched edge
    while True:
        # Distances to findings, from any unmatched golden issue (cost 0).
        golden_dist: list[float] = [
            0.0 if finding_of[g] is None else float("inf") for g in range(golden_count)
        ]
        finding_dist: list[float] = [float("inf")] * finding_count
        reached_by: list[Pair | None] = [None] * finding_count
        changed = True
        while changed:
            changed = False
            for g in range(golden_count):
                if golden_dist[g] == float("inf"):
                    continue
                for edge in by_golden[g]:
                    if finding_of[g] is edge:
                        continue  # a matched edge is only walked backwards
                    cost = golden_dist[g] + edge.distance
                    if cost < finding_dist[edge.finding]:
                        finding_dist[edge.finding] = cost
                        reached_by[edge.finding] = edge
                        changed = True
            for f in range(finding_count):
                back = golden_of[f]
                if back is None or finding_dist[f] == float("inf"):
                    continue
                cost = finding_dist[f] - back.distance
                if cost < golden_dist[back.golden]:
                    golden_dist[back.golden] = cost
                    changed = True
        free = [
            (finding_dist[f], f)
            for f in range(finding_count)
            if golden_of[f] is None and finding_dist[f] != float("inf")
        ]
        if not free:
            break
        _, f = min(free)
        # Walk the alternating path back, flipping matched and unmatched edges.
        while True:
            step = reached_by[f]
            assert step is not None
            previous = finding_of[step.golden]
            finding_of[step.golden] = step
            golden_of[f] = step
            if previous is None:
                break
            f = previous.finding
            golden_of[f] = None
    return [edge for edge in finding_of if edge is not None]
