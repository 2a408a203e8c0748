"""The verify stage: mechanical checks (pure) and the verifier agent through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coordinator.diff import LineMap, parse_unified_diff
from coordinator.findings import Finding, ReportedFinding
from coordinator.merge import FilterMode, MergeOptions, merge_findings
from coordinator.verify import mechanical_checks, quote_near
from tests.council_run import CouncilResult, run_council
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.test_e2e_opencode import finding as reported
from tests.test_e2e_runtimes import SQLI_FINDING, env, model, planted, rules  # noqa: F401 - fixtures

NEW = "def f(items):\n    total = 0\n    for i in range(len(items) + 1):\n        total += items[i]\n    return total\n"
PATCH = (
    "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,5 +1,5 @@\n def f(items):\n     total = 0\n"
    "-    for i in range(len(items)):\n+    for i in range(len(items) + 1):\n         total += items[i]\n     return total\n"
)


def merged(*findings: Finding) -> tuple[object, LineMap]:
    files = parse_unified_diff(PATCH)
    line_map = LineMap(files, {"m.py": 5})
    reported = [ReportedFinding(reviewer=f"r{i}", finding=f) for i, f in enumerate(findings)]
    return merge_findings(reported, line_map, MergeOptions()), line_map


def finding(line: int = 3, **extra: object) -> Finding:
    fields: dict[str, object] = {
        "path": "m.py",
        "line": line,
        "severity": "high",
        "category": "correctness",
        "title": "Off-by-one reads past the end",
        "body": "range(len(items) + 1) indexes one past the end.",
        "confidence": 0.9,
    }
    fields.update(extra)
    return Finding.model_validate(fields)


def test_quote_near_ignores_whitespace_and_respects_the_window() -> None:
    assert quote_near(NEW, "for i in range(len(items)  +  1):", 3, 3)
    assert not quote_near(NEW, "for i in range(len(items) + 2):", 3, 3)
    assert not quote_near("x\n" * 50 + NEW, "total += items[i]", 1, 1)


def test_evidence_that_is_not_in_the_file_rejects_the_finding() -> None:
    result, line_map = merged(
        finding(evidence="for i in range(len(items) + 1):"),
        finding(line=4, title="Ghost", body="x", evidence="while True:"),
    )
    checked = mechanical_checks(result, {"m.py": NEW}, line_map, FilterMode.DIFF_CONTEXT)  # type: ignore[arg-type]
    assert [f.title for f in checked.findings] == ["Off-by-one reads past the end"]
    assert [r.reason for r in checked.rejected] == [
        "evidence not found in m.py near line 4: 'while True:'"
    ]
    assert checked.member_count() == 2


def test_a_suggestion_equal_to_the_current_lines_is_dropped() -> None:
    result, line_map = merged(finding(suggestion="    for i in range(len(items) + 1):"))
    checked = mechanical_checks(result, {"m.py": NEW}, line_map, FilterMode.DIFF_CONTEXT)  # type: ignore[arg-type]
    assert checked.findings[0].suggestion is None
    kept, _ = merged(finding(suggestion="    for i in range(len(items)):"))
    assert (
        mechanical_checks(kept, {"m.py": NEW}, line_map, FilterMode.DIFF_CONTEXT)
        .findings[0]
        .suggestion
    )  # type: ignore[arg-type]


def test_out_of_hunk_findings_that_name_no_changed_line_rank_down() -> None:
    text = NEW + "".join(f"x{i} = {i}\n" for i in range(30))
    lm_counts = {"m.py": text.count("\n")}
    files = parse_unified_diff(PATCH)
    line_map = LineMap(files, lm_counts)
    linked = finding(
        line=20, title="Stale cache", body="Callers of line 3 now read one item too many."
    )
    unlinked = finding(
        line=25, title="Unrelated naming", body="x24 is a poor name.", severity="high"
    )
    result = merge_findings(
        [
            ReportedFinding(reviewer="a", finding=linked),
            ReportedFinding(reviewer="b", finding=unlinked),
        ],
        line_map,
        MergeOptions(),
    )
    before = {f.title: f.score for f in result.findings}
    checked = mechanical_checks(result, {"m.py": text}, line_map, FilterMode.DIFF_CONTEXT)
    after = {f.title: f.score for f in checked.findings}
    assert after["Stale cache"] == before["Stale cache"]
    assert after["Unrelated naming"] == pytest.approx(before["Unrelated naming"] * 0.5, abs=1e-4)
    assert [f.rank for f in checked.findings] == [1, 2]


# ------------------------------------------------------------------------- the verifier agent


def review_json(planted: Path, env: dict[str, str], *args: str) -> CouncilResult:
    """``council review --format json`` on the openai runtime, with ``args`` added."""
    base = ["review", "--format", "json", "--runtime", "openai", "--model", "openai/m"]
    return run_council([*base, *args], cwd=planted, env=env)


def answer_verdicts(
    model: ScriptedModelServer, verdicts: dict[str, list[dict[str, object]]]
) -> None:
    """The verifier's answer for each file; the reviewers answer as ``rules()`` says."""
    model.reset(
        [
            *(
                Rule(f"# Verify findings in {path}", Reply.structured({"verdicts": answer}))
                for path, answer in verdicts.items()
            ),
            *rules(),
        ]
    )


def _ids(planted: Path, env: dict[str, str]) -> dict[str, str]:
    first = review_json(planted, env, "--agents", "security,correctness")
    return {f["path"]: f["id"] for f in first.json()["findings"]}


def test_verifier_confirms_refutes_with_evidence_and_ignores_bare_refutations(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    ids = _ids(planted, env)
    verdicts = {
        "app/db.py": [
            {
                "id": ids["app/db.py"],
                "verdict": "confirmed",
                "confidence": 0.9,
                "reason": "app/db.py:9 formats name into SQL.",
                "evidence": SQLI_FINDING["evidence"],
            }
        ],
        "app/util.py": [
            {
                "id": ids["app/util.py"],
                "verdict": "refuted",
                "confidence": 0.8,
                "reason": "Guarded upstream.",
                "evidence": "if items: guard()",
            }
        ],
    }
    answer_verdicts(model, verdicts)
    result = review_json(planted, env, "--verify", "--agents", "security,correctness")
    doc = result.json()
    by_path = {f["path"]: f for f in doc["findings"]}
    assert by_path["app/db.py"]["verdict"] == "confirmed"
    # The refutation quoted a line that exists nowhere in the repository: it does not count.
    assert by_path["app/util.py"]["verdict"] == "uncertain"
    verifier = next(r for r in doc["reviewers"] if r["agent"] == "verifier")
    assert (verifier["status"], verifier["sessions"]) == ("ok", 2)  # one session per file

    # Now a refutation with real evidence (a line of app/util.py) removes the finding. The
    # change and settings are the same, so the stored review must be bypassed.
    env = {**env, "COUNCIL_CACHE": "false"}
    verdicts["app/util.py"][0]["evidence"] = "def first_item(items):"
    answer_verdicts(model, verdicts)
    result = review_json(planted, env, "--verify", "--agents", "security,correctness")
    doc = result.json()
    assert [f["path"] for f in doc["findings"]] == ["app/db.py"]
    refuted = [r for r in doc["rejected"] if r["path"] == "app/util.py"]
    assert refuted
    assert all(r["reason"].startswith("refuted by verifier: Guarded upstream.") for r in refuted)


def test_a_refuted_finding_gives_its_place_under_max_findings(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    ids = _ids(planted, env)
    refutation = {
        "id": ids["app/db.py"],
        "verdict": "refuted",
        "confidence": 0.9,
        "reason": "name is an internal constant.",
        "evidence": "def find_user(conn, name):",
    }
    docstring = reported(
        "app/db.py", 8, "low", "Public function has no documentation", "maintainability", 0.6
    )
    model.reset(
        [
            Rule("# Verify findings in app/db.py", Reply.structured({"verdicts": [refutation]})),
            Rule("# Verify findings in app/util.py", Reply.structured({"verdicts": []})),
            Rule("# Code review: maintainability", Reply.structured({"findings": [docstring]})),
            *rules(),
        ]
    )
    agents = "security,correctness,maintainability"
    no_cache = {**env, "COUNCIL_CACHE": "false"}
    doc = review_json(
        planted, no_cache, "--agents", agents, "--max-findings", "1", "--verify"
    ).json()
    # The top finding was refuted; the next one takes its place instead of being cut.
    assert [(f["path"], f["rank"]) for f in doc["findings"]] == [("app/util.py", 1)]
    reasons = {r["title"]: r["reason"] for r in doc["rejected"]}
    refuted = next(r for t, r in reasons.items() if t.startswith("SQL injection"))
    assert refuted.startswith("refuted by verifier: name is an internal constant.")
    # The verifier saw twice the cap, the best two; the third was cut unverified.
    assert reasons["Public function has no documentation"].startswith("over --max-findings 1")
    asked = model.requests_matching("# Verify findings")
    assert len(asked) == 2
    assert not any("Public function has no documentation" in r.text for r in asked)


def test_a_failing_verifier_keeps_every_finding(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset([Rule("# Verify findings", Reply.error(401)), *rules()])
    result = review_json(planted, env, "--verify", "--agents", "security,correctness")
    doc = result.json()
    assert sorted(f["path"] for f in doc["findings"]) == ["app/db.py", "app/util.py"]
    assert all(f["verdict"] is None for f in doc["findings"])
    verifier = next(r for r in doc["reviewers"] if r["agent"] == "verifier")
    assert verifier["status"] == "failed"
    assert "findings kept" in verifier["error"]
    assert result.code == 1  # a failed verifier does not make the review incomplete


def test_verifier_prompt_fences_findings_and_code_as_data(
    planted: Path, env: dict[str, str], model: ScriptedModelServer
) -> None:
    model.reset([Rule("# Verify findings", Reply.structured({"verdicts": []})), *rules()])
    review_json(planted, env, "--verify", "--agents", "security")
    (request,) = model.requests_matching("# Verify findings in app/db.py")
    text = request.text
    assert "<<<FINDINGS " in text
    assert "<<<CODE " in text
    assert json.dumps(SQLI_FINDING["title"]) in text
    assert " 9 | " in text  # the file is shown with line numbers


def test_a_guidelines_finding_must_quote_a_real_rule() -> None:
    rules = ['Never call `print` in library code; use the "logging" module instead.']
    quoting = finding(
        title="print in library code",
        body='AGENTS.md: "Never call `print` in library code" is broken here.',
    )
    inventing = finding(
        line=4, title="Style", body='AGENTS.md: "Always use tabs for indentation" is broken.'
    )
    files = parse_unified_diff(PATCH)
    line_map = LineMap(files, {"m.py": 5})
    reported = [ReportedFinding(reviewer="guidelines", finding=f) for f in (quoting, inventing)]
    result = merge_findings(reported, line_map, MergeOptions())
    checked = mechanical_checks(
        result, {"m.py": NEW}, line_map, FilterMode.DIFF_CONTEXT, rules=rules
    )
    assert [f.title for f in checked.findings] == ["print in library code"]
    assert [r.reason for r in checked.rejected] == [
        "guidelines finding quotes no rule from the repository's guideline files"
    ]
    # The same finding also reported by another reviewer stands on that reviewer's word.
    both = merge_findings(
        [*reported, ReportedFinding(reviewer="maintainability", finding=inventing)],
        line_map,
        MergeOptions(),
    )
    assert (
        len(
            mechanical_checks(
                both, {"m.py": NEW}, line_map, FilterMode.DIFF_CONTEXT, rules=rules
            ).findings
        )
        == 2
    )
