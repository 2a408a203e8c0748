"""merge: anchoring, filter modes, clustering, scoring, ids, cuts, conservation."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coordinator import merge as merge_module
from coordinator.findings import Anchor, Finding, ReportedFinding, Severity
from coordinator.merge import (
    ANCHOR_FACTOR,
    FilterMode,
    LineLocator,
    MergeOptions,
    MergeResult,
    anchor_finding,
    combine_confidence,
    merge_findings,
)

# The clustering's internals, checked against its definition below.
_Candidate = merge_module._Candidate
_cluster = merge_module._cluster
_same_problem = merge_module._same_problem


@dataclass
class FakeFile:
    lines: list[str]
    added: set[int] = field(default_factory=set)
    context: set[int] = field(default_factory=set)


@dataclass
class FakeLocator:
    """A diff over whole files: hunk lines are added/context, the rest of the file FILE."""

    files: dict[str, FakeFile]

    def locate(self, path: str, line: int) -> Anchor:
        file = self.files.get(path)
        if file is None or line > len(file.lines):
            return Anchor.OUTSIDE
        if line in file.added:
            return Anchor.ADDED
        if line in file.context:
            return Anchor.CONTEXT
        return Anchor.FILE

    def new_line_text(self, path: str, line: int) -> str | None:
        file = self.files.get(path)
        if file is None or not 1 <= line <= len(file.lines):
            return None
        return file.lines[line - 1]


def _file(n: int = 40, added: range = range(10, 20), context: range = range(7, 10)) -> FakeFile:
    return FakeFile([f"code_line_{i}()" for i in range(1, n + 1)], set(added), set(context))


LOCATOR = FakeLocator({"app/db.py": _file(), "app/web.py": _file()})


def rf(reviewer: str = "security", **fields: Any) -> ReportedFinding:
    base: dict[str, Any] = {
        "path": "app/db.py",
        "line": 12,
        "severity": "high",
        "category": "security",
        "title": "SQL injection via string formatting in query",
        "body": "",
        "confidence": 0.8,
    }
    base.update(fields)
    return ReportedFinding(reviewer=reviewer, finding=Finding.model_validate(base))


def merge(
    reported: list[ReportedFinding], locator: LineLocator = LOCATOR, **options: Any
) -> MergeResult:
    result = merge_findings(reported, locator, MergeOptions(**options))
    assert result.member_count() == len(reported)
    return result


# -- anchoring and filter modes --------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "end_line", "expected"),
    [
        (12, None, Anchor.ADDED),
        (8, None, Anchor.CONTEXT),
        (30, None, Anchor.FILE),
        (99, None, Anchor.OUTSIDE),
        (18, 35, Anchor.ADDED),  # runs past the hunk: anchored by its line
        (3, 11, Anchor.ADDED),  # starts outside the hunk, reaches an added line
        (3, 8, Anchor.CONTEXT),  # best anchor in the range
        (38, 60, Anchor.FILE),  # starts in the file, runs past its end
    ],
)
def test_anchor_uses_the_best_line_of_the_range(
    line: int, end_line: int | None, expected: Anchor
) -> None:
    finding = rf(line=line, end_line=end_line).finding
    assert anchor_finding(finding, LOCATOR) is expected


def test_anchor_of_an_unknown_file_is_outside() -> None:
    assert anchor_finding(rf(path="other.py").finding, LOCATOR) is Anchor.OUTSIDE


KEPT = {
    FilterMode.ADDED: {Anchor.ADDED},
    FilterMode.DIFF_CONTEXT: {Anchor.ADDED, Anchor.CONTEXT, Anchor.FILE},
    FilterMode.FILE: {Anchor.ADDED, Anchor.CONTEXT, Anchor.FILE},
    FilterMode.NOFILTER: set(Anchor),
}
LINE_OF = {Anchor.ADDED: 12, Anchor.CONTEXT: 8, Anchor.FILE: 30, Anchor.OUTSIDE: 99}


@pytest.mark.parametrize(("mode", "anchor"), list(itertools.product(FilterMode, Anchor)))
def test_filter_modes_keep_like_reviewdog(mode: FilterMode, anchor: Anchor) -> None:
    result = merge([rf(line=LINE_OF[anchor])], filter_mode=mode)
    if anchor in KEPT[mode]:
        assert [f.anchor for f in result.findings] == [anchor]
        assert result.rejected == []
    else:
        assert result.findings == []
        assert len(result.rejected) == 1


def test_filter_reasons_are_readable() -> None:
    outside = merge([rf(line=99)]).rejected[0]
    assert outside.reason == "location outside the diff (app/db.py:99)"
    assert outside.reviewer == "security"
    context = merge([rf(line=8)], filter_mode=FilterMode.ADDED).rejected[0]
    assert context.reason == "line not on an added line (app/db.py:8 is context; filter=added)"


def test_diff_context_ranks_file_findings_below_diff_findings() -> None:
    on_file = rf(line=30, title="Hard-coded password", category="secrets")
    on_diff = rf("correctness", path="app/web.py", title="Wrong status code", category="http")
    result = merge([on_file, on_diff])
    assert [f.anchor for f in result.findings] == [Anchor.ADDED, Anchor.FILE]
    assert [f.score for f in result.findings] == [0.64, 0.384]  # 0.8 x 0.8 (x 0.6)
    same = merge([on_file, on_diff], filter_mode=FilterMode.FILE)
    assert [f.score for f in same.findings] == [0.64, 0.64]


def test_a_critical_file_finding_still_ranks_below_a_low_diff_finding() -> None:
    on_file = rf(line=30, severity="critical", confidence=0.95, title="Hard-coded password")
    on_diff = rf("correctness", path="app/web.py", severity="low", confidence=0.5, title="Typo")
    result = merge([on_file, on_diff])
    assert [(f.anchor, f.severity) for f in result.findings] == [
        (Anchor.ADDED, "low"),
        (Anchor.FILE, "critical"),
    ]
    assert result.findings[0].score < result.findings[1].score


def test_nofilter_keeps_outside_findings_last() -> None:
    outside = rf(line=99, severity="critical", confidence=0.9, title="Crash on import")
    inside = rf(path="app/web.py", severity="medium", confidence=0.9, title="Slow loop")
    result = merge([outside, inside], filter_mode=FilterMode.NOFILTER)
    assert [f.title for f in result.findings] == ["Slow loop", "Crash on import"]
    assert result.findings[1].anchor is Anchor.OUTSIDE
    assert result.findings[1].score == 0.27  # 1.0 x 0.9 x 0.3


# -- clustering --------------------------------------------------------------------------

SQL_A = rf("security", severity="critical", confidence=0.9, evidence="cur.execute(q)")
SQL_B = rf(
    "correctness",
    line=13,
    severity="high",
    category="correctness",
    confidence=0.8,
    title="Query built with f-string is vulnerable to SQL injection",
)


def test_cluster_across_reviewers_merges_names_severity_and_confidence() -> None:
    result = merge([SQL_B, SQL_A])
    [finding] = result.findings
    assert finding.reviewers == ["correctness", "security"]
    assert finding.severity is Severity.CRITICAL
    assert finding.confidence == 0.98  # 1 - 0.1 x 0.2
    # Representative: the critical one, so its title, category, line and evidence.
    assert (finding.title, finding.category, finding.line) == (SQL_A.finding.title, "security", 12)
    assert finding.evidence == "cur.execute(q)"
    assert finding.score == round(1.0 * 0.98 * 1.25, 4)
    assert result.members[finding.id] == (SQL_A, SQL_B)


def test_confidence_is_noisy_or_capped_and_never_below_the_best() -> None:
    assert combine_confidence({"a": 0.95, "b": 0.9}) == 0.99
    assert combine_confidence({"a": 1.0}) == 1.0
    assert combine_confidence({"a": 0.5, "b": 0.5, "c": 0.5}) == 0.875
    assert combine_confidence({}) == 0.0


def test_agreement_bonus_is_capped() -> None:
    reviewers = [f"r{i}" for i in range(6)]
    result = merge([rf(r, confidence=0.6) for r in reviewers])
    [finding] = result.findings
    assert finding.reviewers == reviewers
    assert finding.confidence == 0.99
    assert finding.score == round(0.8 * 0.99 * 1.75, 4)


def test_same_category_on_overlapping_lines_merges_across_reviewers() -> None:
    a = rf("security", title="Hard-coded credentials", line=12, end_line=14)
    b = rf("guidelines", title="Secret committed to source", line=14)
    assert len(merge([a, b]).findings) == 1


def test_different_problems_on_one_line_stay_apart() -> None:
    a = rf("security", title="SQL injection in query", evidence="cur.execute(q)")
    b = rf(
        "performance",
        category="performance",
        title="Database connection never closed",
        evidence="cur.execute(q)",
    )
    assert len(merge([a, b]).findings) == 2


def test_near_lines_merge_far_lines_do_not() -> None:
    near = rf("correctness", line=15, category="correctness")
    far = rf("correctness", line=16, category="correctness")
    assert len(merge([SQL_A, near]).findings) == 1  # 3 lines apart
    assert len(merge([SQL_A, far]).findings) == 2  # 4 lines apart


def test_one_reviewers_repeated_pattern_stays_separate_but_restatement_merges() -> None:
    x = rf("maintainability", line=12, category="style", title="Unused variable x")
    y = rf("maintainability", line=13, category="style", title="Unused variable y")
    assert len(merge([x, y]).findings) == 2
    again = rf(
        "maintainability", line=12, category="style", title="Variable x is unused", confidence=0.5
    )
    [finding] = merge([x, again]).findings
    assert finding.reviewers == ["maintainability"]
    assert finding.confidence == 0.8  # one reviewer counts once: its max, no noisy-or


@pytest.mark.parametrize(
    ("title_a", "title_b", "same"),
    [
        (
            "SQL injection via string formatting in query",
            "Query built with f-string is vulnerable to SQL injection",
            True,
        ),
        ("Possible None dereference of user", "user may be None here", True),
        ("Missing await on coroutine call", "Coroutine never awaited", True),
        ("File handle is never closed", "Resource leak: file not closed", True),
        ("SQL injection in query", "Database connection never closed", False),
        ("Off-by-one in loop bound", "Loop variable shadows builtin", False),
        ("Hard-coded secret key", "SQL injection in query", False),
        ("Missing test for error path", "Function lacks a docstring", False),
        ("Race condition", "Possible race", True),
        ("Unused import", "Unused variable", False),
        ("Low db", "Critical db", False),
    ],
)
def test_similarity_threshold_calibration(title_a: str, title_b: str, same: bool) -> None:
    # Different categories, so only the words can merge them.
    a = rf("r1", title=title_a, category="c1")
    b = rf("r2", title=title_b, category="c2")
    assert (len(merge([a, b]).findings) == 1) is same


def test_similar_bodies_merge_when_titles_differ() -> None:
    body = "User input reaches the SQL string unescaped; use a parameterised query instead."
    a = rf("r1", title="Unsafe query", category="c1", body=body)
    b = rf("r2", title="Injection risk", category="c2", body=body)
    assert len(merge([a, b]).findings) == 1


# -- ranking, determinism, ids -------------------------------------------------------------


def test_order_is_score_then_severity_path_line() -> None:
    findings = [
        rf(
            "a",
            path="app/web.py",
            line=15,
            severity="low",
            confidence=1.0,
            title="Low web",
            category="a",
        ),
        rf("b", line=18, severity="medium", confidence=0.5, title="Medium db", category="b"),
        rf("c", line=11, severity="low", confidence=1.0, title="Low db", category="c"),
        rf("d", line=12, severity="critical", confidence=0.9, title="Critical db", category="d"),
    ]
    result = merge(findings)
    assert [f.title for f in result.findings] == ["Critical db", "Medium db", "Low db", "Low web"]
    assert [f.rank for f in result.findings] == [1, 2, 3, 4]
    # 0.25 = medium 0.5 x 0.5 = low 0.25 x 1.0: the tie goes to the more severe, then path.
    assert [f.score for f in result.findings] == [0.9, 0.25, 0.25, 0.25]


def test_reviewer_weight_scales_the_score() -> None:
    result = merge([SQL_A, SQL_B], reviewer_weights={"correctness": 1.2, "security": 0.5})
    assert result.findings[0].score == round(1.0 * 0.98 * 1.25 * 1.2, 4)


def test_any_input_order_gives_the_same_result() -> None:
    findings = [
        SQL_A,
        SQL_B,
        rf("maintainability", line=12, category="style", title="Unused variable x"),
        rf("maintainability", line=13, category="style", title="Unused variable y"),
        rf("performance", line=30, title="Slow loop", category="performance"),
        rf("tests", line=99, title="No test"),
        rf("tests", line=12, title="Same code, same title", category="dup"),
        rf("tests", line=25, title="Same code, same title", category="dup"),
    ]
    expected = merge(findings, min_confidence=0.1, max_findings=5)
    for order in itertools.islice(itertools.permutations(findings), 0, 5040, 97):
        assert merge(list(order), min_confidence=0.1, max_findings=5) == expected


def test_id_survives_code_moving_and_title_line_references() -> None:
    before = FakeLocator({"app/db.py": FakeFile(["x = 1"] * 11 + ["cur.execute(q)"], {12})})
    after = FakeLocator({"app/db.py": FakeFile(["x = 1"] * 16 + ["cur.execute(q)"], {17})})
    old = merge([rf(line=12, title="SQL injection at line 12")], before).findings[0]
    new = merge([rf(line=17, title="SQL injection at line 17")], after).findings[0]
    assert old.id == new.id
    assert len(old.id) == 16
    assert all(c in "0123456789abcdef" for c in old.id)


def test_id_changes_when_the_code_changes() -> None:
    one = FakeLocator({"app/db.py": FakeFile(["cur.execute(q)"], {1})})
    other = FakeLocator({"app/db.py": FakeFile(["cur.execute(q, params)"], {1})})
    finding = rf(line=1)
    assert merge([finding], one).findings[0].id != merge([finding], other).findings[0].id


def test_colliding_fingerprints_get_distinct_stable_ids() -> None:
    # Same path, category, title and code text on two far-apart lines: same fingerprint.
    a = rf(line=11, title="Bare pass", category="style", confidence=0.7)
    b = rf(line=19, title="Bare pass", category="style", confidence=0.7)
    locator = FakeLocator({"app/db.py": FakeFile(["pass"] * 20, set(range(1, 21)))})
    first = merge([a, b], locator)
    ids = [f.id for f in first.findings]
    assert len(set(ids)) == 2
    assert [f.id for f in merge([b, a], locator).findings] == ids


# -- cuts ---------------------------------------------------------------------------------


def test_min_confidence_uses_the_merged_confidence() -> None:
    a = rf("security", confidence=0.4)
    b = rf("correctness", confidence=0.4, category="correctness")
    alone = rf("performance", path="app/web.py", confidence=0.3, title="Slow", category="perf")
    result = merge([a, b, alone], min_confidence=0.5)
    assert [f.confidence for f in result.findings] == [0.64]
    [rejected] = result.rejected
    assert rejected.reviewer == "performance"
    assert rejected.reason == "confidence 0.30 below --min-confidence 0.50"


def test_min_confidence_rejects_every_member_with_its_reviewer() -> None:
    a = rf("security", confidence=0.2)
    b = rf("correctness", confidence=0.1, category="correctness")
    result = merge([a, b], min_confidence=0.5)
    assert result.findings == []
    assert sorted(r.reviewer for r in result.rejected) == ["correctness", "security"]
    assert {r.reason for r in result.rejected} == {"confidence 0.28 below --min-confidence 0.50"}
    assert {r.confidence for r in result.rejected} == {0.2, 0.1}  # members keep their own fields


def test_max_findings_cuts_after_ranking() -> None:
    findings = [
        rf("a", line=12, severity="critical", title="First", category="a"),
        rf("b", line=18, severity="high", title="Second", category="b"),
        rf("c", path="app/web.py", severity="low", title="Third", category="c"),
    ]
    result = merge(findings, max_findings=1)
    assert [f.title for f in result.findings] == ["First"]
    assert [(r.title, r.reason) for r in result.rejected] == [
        ("Second", "over --max-findings 1 (rank 2)"),
        ("Third", "over --max-findings 1 (rank 3)"),
    ]


def test_reviewer_limits_keep_the_top_by_severity_then_confidence() -> None:
    findings = [
        rf("tests", line=11, severity="low", confidence=0.9, title="A", category="a"),
        rf("tests", line=14, severity="high", confidence=0.5, title="B", category="b"),
        rf("tests", line=17, severity="high", confidence=0.6, title="C", category="c"),
        rf("security", line=30, severity="low", title="D", category="d"),
    ]
    result = merge(findings, reviewer_limits={"tests": 2})
    assert sorted(f.title for f in result.findings) == ["B", "C", "D"]
    assert [(r.title, r.reason) for r in result.rejected] == [
        ("A", "over reviewer max_findings 2 for tests (rank 3)")
    ]


@pytest.mark.parametrize(
    "options",
    [
        {"min_confidence": 1.5},
        {"max_findings": -1},
        {"reviewer_weights": {"a": -1.0}},
        {"reviewer_limits": {"a": -1}},
    ],
)
def test_options_are_validated(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        MergeOptions(**options)


# -- properties -------------------------------------------------------------------------

PATHS = ("app/a.py", "app/b.py", "lib/c.py")
TITLES = (
    "SQL injection in query",
    "Query is open to SQL injection",
    "Unused variable",
    "Missing await",
    "Slow loop over rows",
)


@st.composite
def reported_findings(draw: st.DrawFn) -> ReportedFinding:
    line = draw(st.integers(1, 30))
    finding = Finding(
        path=draw(st.sampled_from(PATHS)),
        line=line,
        end_line=draw(st.none() | st.integers(1, 40)),
        severity=draw(st.sampled_from(Severity)),
        category=draw(st.sampled_from(("security", "correctness", "style"))),
        title=draw(st.sampled_from(TITLES)),
        body=draw(st.sampled_from(("", "User input reaches the query."))),
        suggestion=draw(st.none() | st.just("fixed()")),
        confidence=draw(st.sampled_from((0.0, 0.1, 0.35, 0.5, 0.8, 0.95, 1.0))),
        evidence=draw(st.none() | st.just("run(q)")),
    )
    reviewer = draw(st.sampled_from(("security", "correctness", "tests")))
    return ReportedFinding(reviewer=reviewer, finding=finding)


@st.composite
def locators(draw: st.DrawFn) -> FakeLocator:
    files: dict[str, FakeFile] = {}
    for path in draw(st.sets(st.sampled_from(PATHS), min_size=1)):
        length = draw(st.integers(25, 35))
        lines = draw(
            st.lists(st.sampled_from(("pass", "run(q)", "x = 1")), min_size=length, max_size=length)
        )
        # Mostly hunk lines, so that most findings survive the filter and can cluster.
        added = draw(st.sets(st.integers(1, length), min_size=length // 2))
        context = draw(st.sets(st.integers(1, length))) - added
        files[path] = FakeFile(lines, added, context)
    return FakeLocator(files)


merge_options = st.builds(
    MergeOptions,
    filter_mode=st.sampled_from(FilterMode),
    min_confidence=st.sampled_from((0.0, 0.3, 0.6)),
    max_findings=st.none() | st.integers(0, 6),
    reviewer_weights=st.dictionaries(
        st.sampled_from(("security", "tests")), st.sampled_from((0.5, 2.0))
    ),
    reviewer_limits=st.dictionaries(st.sampled_from(("correctness", "tests")), st.integers(0, 3)),
)


def _as_key(reviewer: str, finding: Finding) -> tuple[str, str]:
    fields = Finding.model_fields
    return reviewer, repr({k: getattr(finding, k) for k in fields})


@settings(max_examples=300, deadline=None)
@given(
    findings=st.lists(reported_findings(), max_size=25),
    locator=locators(),
    options=merge_options,
    data=st.data(),
)
def test_conservation_and_determinism(
    findings: list[ReportedFinding],
    locator: FakeLocator,
    options: MergeOptions,
    data: st.DataObject,
) -> None:
    result = merge_findings(findings, locator, options)

    # Conservation: every input is a member or rejected, exactly once.
    assert result.member_count() == len(findings)
    placed = Counter(_as_key(m.reviewer, m.finding) for ms in result.members.values() for m in ms)
    placed.update(_as_key(r.reviewer, r) for r in result.rejected)
    assert placed == Counter(_as_key(r.reviewer, r.finding) for r in findings)
    assert all(r.reason for r in result.rejected)

    # Shape of the ranked list.
    ids = [f.id for f in result.findings]
    assert len(set(ids)) == len(ids)
    assert set(result.members) == set(ids)
    assert [f.rank for f in result.findings] == list(range(1, len(ids) + 1))
    # Penalised anchors (file in diff_context, outside in nofilter) form a lower tier;
    # within a tier, scores descend.
    factors = ANCHOR_FACTOR[options.filter_mode]
    order = [(factors[f.anchor] < 1.0, -f.score) for f in result.findings]
    assert order == sorted(order)
    for f in result.findings:
        assert f.reviewers == sorted({m.reviewer for m in result.members[f.id]})
        assert f.severity is min(
            (m.finding.severity for m in result.members[f.id]), key=lambda s: s.order
        )
        assert f.confidence >= options.min_confidence
        assert f.anchor in KEPT[options.filter_mode]
    if options.max_findings is not None:
        assert len(result.findings) <= options.max_findings

    # Determinism: any permutation of the same inputs gives the same result.
    shuffled = data.draw(st.permutations(findings))
    assert merge_findings(shuffled, locator, options) == result


def _components_by_all_pairs(candidates: list[merge_module._Candidate]) -> set[frozenset[int]]:
    """The definition the sweep must match: components of _same_problem over every pair."""
    parent = list(range(len(candidates)))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(len(candidates)), 2):
        if _same_problem(candidates[i], candidates[j]):
            parent[find(i)] = find(j)
    groups: dict[int, set[int]] = {}
    for i in range(len(candidates)):
        groups.setdefault(find(i), set()).add(i)
    return {frozenset(g) for g in groups.values()}


@settings(max_examples=300, deadline=None)
@given(findings=st.lists(reported_findings(), max_size=40))
def test_clusters_are_the_components_of_same_problem_over_all_pairs(
    findings: list[ReportedFinding],
) -> None:
    """The sweep (bucketed, line-ordered, stopping at the first match per component)
    finds exactly the connected components an all-pairs comparison would."""
    candidates = [_Candidate(r, Anchor.ADDED) for r in findings]
    index = {id(c): i for i, c in enumerate(candidates)}
    swept = {frozenset(index[id(c)] for c in group) for group in _cluster(candidates)}
    assert swept == _components_by_all_pairs(candidates)


def test_findings_crowded_on_a_few_lines_cost_about_linear_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thousands of findings on a handful of lines, mostly one problem: the sweep
    compares each with about one member per open component, not with every neighbour."""
    calls = 0
    crowd = [
        _Candidate(
            rf(reviewer=f"r{i % 6}", line=1 + i % 5, category="security", title=f"Issue {i % 7}"),
            Anchor.ADDED,
        )
        for i in range(3000)
    ]

    def counting(a: merge_module._Candidate, b: merge_module._Candidate) -> bool:
        nonlocal calls
        calls += 1
        return _same_problem(a, b)

    monkeypatch.setattr(merge_module, "_same_problem", counting)
    groups = _cluster(crowd)
    assert len(groups) == 1
    assert calls < 5 * len(crowd)  # all pairs would be ~4.5 million
