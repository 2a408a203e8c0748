"""Matching findings to golden issues (window, one-to-one, maximum) and the rates. Pure."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coordinator.evaluation.matching import Matching, Pair, candidate_pairs, distance, match
from coordinator.evaluation.metrics import Counts


@dataclass(frozen=True)
class At:
    path: str
    line: int
    end: int | None = None

    @property
    def last_line(self) -> int:
        return self.end if self.end is not None else self.line


def lines(m: Matching) -> list[tuple[int, int]]:
    return [(p.golden, p.finding) for p in m.pairs]


@pytest.mark.parametrize(
    ("finding", "expected"),
    [
        (At("a.py", 10), 0),
        (At("a.py", 13), 3),  # inside the default window
        (At("a.py", 14), 4),  # outside it
        (At("a.py", 7), 3),
        (At("a.py", 6), 4),
        (At("a.py", 2, 9), 1),  # a range ending one line before
        (At("a.py", 1, 30), 0),  # a range covering the golden line
        (At("b.py", 10), None),  # another path never matches
    ],
)
def test_distance_between_ranges(finding: At, expected: int | None) -> None:
    assert distance(At("a.py", 10), finding) == expected


def test_golden_range_counts_its_whole_span() -> None:
    golden = [At("a.py", 10, 14)]
    assert distance(golden[0], At("a.py", 17)) == 3
    assert lines(match(golden, [At("a.py", 17)])) == [(0, 0)]
    assert lines(match(golden, [At("a.py", 18)])) == []


def test_window_boundary_is_inclusive_and_configurable() -> None:
    golden = [At("a.py", 10)]
    assert match(golden, [At("a.py", 13)]).true_positives == 1
    assert match(golden, [At("a.py", 14)]).true_positives == 0
    assert match(golden, [At("a.py", 14)], window=4).true_positives == 1
    assert match(golden, [At("a.py", 11)], window=0).true_positives == 0
    assert match(golden, [At("a.py", 10)], window=0).true_positives == 1
    with pytest.raises(ValueError, match="line window"):
        match(golden, [], window=-1)


def test_two_findings_on_one_golden_issue_give_one_match_and_one_false_positive() -> None:
    m = match([At("a.py", 10)], [At("a.py", 12), At("a.py", 10)])
    assert lines(m) == [(0, 1)]  # the nearer one
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 1, 0)
    assert m.unmatched == (0,)


def test_one_finding_between_two_golden_issues_matches_only_one() -> None:
    m = match([At("a.py", 10), At("a.py", 14)], [At("a.py", 12)])
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 0, 1)
    assert lines(m) == [(0, 0)]  # equal distance: the first golden issue, deterministically
    assert m.missed == (1,)


def test_matching_is_maximum_where_greedy_by_distance_is_not() -> None:
    # f0 is nearest to g0 (1) but also reaches g1 (3); f1 reaches only g0 (2).
    # Greedy would pair g0-f0 and leave g1 unmatched; the maximum matching finds both.
    golden = [At("a.py", 10), At("a.py", 14)]
    findings = [At("a.py", 11), At("a.py", 8)]
    m = match(golden, findings)
    assert lines(m) == [(0, 1), (1, 0)]
    assert (m.true_positives, m.false_positives, m.false_negatives) == (2, 0, 0)


def test_among_maximum_matchings_the_nearest_wins() -> None:
    golden = [At("a.py", 10), At("a.py", 20)]
    findings = [At("a.py", 20), At("a.py", 10), At("a.py", 12)]
    m = match(golden, findings)
    assert lines(m) == [(0, 1), (1, 0)]
    assert [p.distance for p in m.pairs] == [0, 0]


def test_accept_vetoes_candidates() -> None:
    golden = [At("a.py", 10), At("a.py", 30)]
    findings = [At("a.py", 10), At("a.py", 31)]
    m = match(golden, findings, accept=lambda p: p.golden == 0)
    assert lines(m) == [(0, 0)]
    assert (m.true_positives, m.false_positives, m.false_negatives) == (1, 1, 1)


def test_candidate_pairs_are_sorted_nearest_first() -> None:
    pairs = candidate_pairs([At("a.py", 10)], [At("a.py", 13), At("a.py", 10), At("b.py", 10)], 3)
    assert pairs == [Pair(0, 0, 1), Pair(3, 0, 0)]


def _brute_force_best(golden: list[At], findings: list[At], window: int) -> tuple[int, int]:
    """(most matches, least total distance among those) by trying every assignment."""
    best = (0, 0)
    edges = {(p.golden, p.finding): p.distance for p in candidate_pairs(golden, findings, window)}
    for k in range(min(len(golden), len(findings)), 0, -1):
        costs = [
            sum(edges[(g, f)] for g, f in zip(gs, fs, strict=True))
            for gs in itertools.combinations(range(len(golden)), k)
            for fs in itertools.permutations(range(len(findings)), k)
            if all((g, f) in edges for g, f in zip(gs, fs, strict=True))
        ]
        if costs:
            return (k, min(costs))
    return best


spans = st.builds(
    lambda path, line, extra: At(path, line, line + extra if extra else None),
    st.sampled_from(["a.py", "b.py"]),
    st.integers(1, 30),
    st.integers(0, 3),
)


@given(st.lists(spans, max_size=5), st.lists(spans, max_size=5), st.integers(0, 4))
def test_matching_is_maximum_with_least_distance_and_one_to_one(
    golden: list[At], findings: list[At], window: int
) -> None:
    m = match(golden, findings, window)
    assert len({p.golden for p in m.pairs}) == len(m.pairs)
    assert len({p.finding for p in m.pairs}) == len(m.pairs)
    assert all(p.distance <= window for p in m.pairs)
    assert m.true_positives + m.false_negatives == len(golden)
    assert m.true_positives + m.false_positives == len(findings)
    assert (m.true_positives, sum(p.distance for p in m.pairs)) == _brute_force_best(
        golden, findings, window
    )
    assert match(golden, findings, window) == m  # deterministic


@pytest.mark.parametrize(
    ("counts", "rates"),
    [
        (Counts(3, 1, 1), (0.75, 0.75, 0.75)),
        (Counts(4, 1, 0), (0.8, 1.0, 0.8889)),
        (Counts(5, 2, 0), (0.7143, 1.0, 0.8333)),
        (Counts(0, 0, 3), (None, 0.0, 0.0)),  # nothing reported
        (Counts(0, 2, 0), (0.0, None, 0.0)),  # a clean case with false positives
        (Counts(0, 0, 0), (None, None, None)),  # nothing to find, nothing reported
    ],
)
def test_precision_recall_f1(counts: Counts, rates: tuple[float | None, ...]) -> None:
    assert (counts.precision, counts.recall, counts.f1) == rates


def test_counts_add_up_for_micro_averages() -> None:
    total = Counts(3, 1, 1) + Counts(1, 1, 0)
    assert total == Counts(4, 2, 1)
    assert (total.reported, total.golden) == (6, 5)
