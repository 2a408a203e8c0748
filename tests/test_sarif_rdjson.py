"""`--format sarif` and `--format rdjson`, validated against the official schemas."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from coordinator.findings import Anchor, ReviewFinding, Severity
from coordinator.reporters import REPORTERS
from coordinator.reporters.rdjson import render_rdjson
from coordinator.reporters.rule_ids import category_slug
from coordinator.reporters.sarif import render_sarif
from coordinator.review import (
    DiffSummary,
    FailOn,
    Review,
    ReviewerReport,
    ReviewerStatus,
    summarise,
)
from tests.council_run import council_env, run_council
from tests.fakes.github_api import SCHEMAS
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer
from tests.gitrepo import one_line_change


def schema(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return doc


def validate(document: Any, name: str) -> None:
    root = schema(name)
    # Both schemas declare draft-04; checking that keeps the validator honest if they change.
    assert root["$schema"] == "http://json-schema.org/draft-04/schema#"
    jsonschema.Draft4Validator(root).validate(document)


def finding(fid: str, severity: Severity, category: str, **extra: Any) -> ReviewFinding:
    fields: dict[str, Any] = {
        "id": fid,
        "rank": 1,
        "score": 0.9,
        "path": "app/db.py",
        "line": 9,
        "severity": severity,
        "category": category,
        "title": "SQL injection",
        "body": "The name is formatted into the query.",
        "confidence": 0.9,
        "reviewers": ["security", "correctness"],
        "anchor": Anchor.ADDED,
    }
    fields.update(extra)
    return ReviewFinding(**fields)


def review_of(findings: list[ReviewFinding], *, failed_reviewer: bool = False) -> Review:
    reviewers = [
        ReviewerReport(
            agent="security",
            runtime="opencode",
            model="fake/m",
            status=ReviewerStatus.OK,
            sessions=1,
            duration_s=1.0,
            tokens_in=1,
            tokens_out=1,
            cost_usd=0.0,
            findings=len(findings),
        )
    ]
    if failed_reviewer:
        reviewers.append(
            reviewers[0].model_copy(
                update={"agent": "tests", "status": ReviewerStatus.FAILED, "error": "HTTP 401"}
            )
        )
    return Review(
        diff=DiffSummary(base="a" * 40, head="b" * 40, files=2, additions=3, deletions=1),
        reviewers=reviewers,
        findings=findings,
        rejected=[],
        unreviewed=[],
        summary=summarise(findings, FailOn.HIGH),
    )


FINDINGS = [
    finding("a" * 16, Severity.CRITICAL, "security", suggestion='cur.execute("... %s", (q,))'),
    finding(
        "b" * 16,
        Severity.MEDIUM,
        "Error handling",
        path="src/dir with space/ünïcode.py",
        line=3,
        end_line=5,
        title="Swallowed <exception>",
        suggestion="",
    ),
    finding("c" * 16, Severity.INFO, "security", line=20, title="Consider a limit"),
    finding("d" * 16, Severity.LOW, "!!!", line=1, body=""),
]


def test_registered_formats() -> None:
    assert REPORTERS["sarif"] is render_sarif
    assert REPORTERS["rdjson"] is render_rdjson


@pytest.mark.parametrize("failed", [False, True])
def test_sarif_is_valid_and_has_what_code_scanning_needs(failed: bool) -> None:
    doc = json.loads(render_sarif(review_of(FINDINGS, failed_reviewer=failed)))
    validate(doc, "sarif-schema-2.1.0.json")
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (run,) = doc["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [
        "council/error-handling",
        "council/general",
        "council/security",
    ]
    for rule in rules:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert len(rule["shortDescription"]["text"]) <= 1024
    security = rules[2]
    assert security["properties"]["security-severity"] == "9.5"
    assert security["defaultConfiguration"]["level"] == "error"
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "warning", "note", "note"]
    for result, f in zip(results, FINDINGS, strict=True):
        assert result["message"]["text"].startswith(f.title)
        assert result["partialFingerprints"]["primaryLocationLineHash"] == f.id
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        region = location["physicalLocation"]["region"]
        assert (region["startLine"], region["endLine"]) == (f.line, f.last_line)
    uri = results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "src/dir%20with%20space/%C3%BCn%C3%AFcode.py"
    fix = results[0]["fixes"][0]["artifactChanges"][0]["replacements"][0]
    assert fix["deletedRegion"] == {"startLine": 9, "endLine": 9}
    assert fix["insertedContent"]["text"] == 'cur.execute("... %s", (q,))'
    assert results[1]["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"] == {
        "text": ""
    }
    assert "fixes" not in results[2]
    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is True
    notes = invocation.get("toolExecutionNotifications", [])
    assert [n["message"]["text"] for n in notes] == (
        ["reviewer tests failed: HTTP 401"] if failed else []
    )


def test_sarif_of_an_empty_review_is_valid() -> None:
    doc = json.loads(render_sarif(review_of([])))
    validate(doc, "sarif-schema-2.1.0.json")
    assert doc["runs"][0]["results"] == []
    assert doc["runs"][0]["tool"]["driver"]["rules"] == []


def test_sarif_breaking_change_is_caught_by_the_schema() -> None:
    doc = json.loads(render_sarif(review_of(FINDINGS)))
    doc["version"] = "2.0.0"
    with pytest.raises(jsonschema.ValidationError):
        validate(doc, "sarif-schema-2.1.0.json")


def test_rdjson_is_valid_with_suggestions_over_the_same_lines() -> None:
    doc = json.loads(render_rdjson(review_of(FINDINGS)))
    validate(doc, "rdjson.schema.json")
    for diagnostic in doc["diagnostics"]:
        validate(diagnostic, "rdjsonl-diagnostic.schema.json")
    first, second, third, fourth = doc["diagnostics"]
    assert first["severity"] == "ERROR"
    assert second["severity"] == "WARNING"
    assert third["severity"] == "INFO"
    assert fourth["severity"] == "INFO"
    assert first["code"]["value"] == "council/security"
    assert second["location"] == {
        "path": "src/dir with space/ünïcode.py",
        "range": {"start": {"line": 3}, "end": {"line": 5}},
    }
    assert first["suggestions"] == [
        {"range": {"start": {"line": 9}, "end": {"line": 9}}, "text": 'cur.execute("... %s", (q,))'}
    ]
    assert second["suggestions"][0]["text"] == ""  # deletes the lines
    assert "suggestions" not in third
    assert fourth["message"] == "SQL injection"
    extra = json.loads(first["original_output"])
    assert extra["id"] == "a" * 16
    assert extra["reviewers"] == ["security", "correctness"]


@pytest.mark.parametrize(
    ("category", "slug"),
    [("security", "security"), ("Error handling", "error-handling"), ("!!!", "general"),
     ("  Perf/Memory  ", "perf-memory")],
)  # fmt: skip
def test_rule_ids_depend_on_the_category_only(category: str, slug: str) -> None:
    assert category_slug(category) == slug


@pytest.fixture(scope="module")
def model() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(default=Reply.text('{"findings": []}')) as server:
        yield server


@pytest.mark.parametrize(
    ("fmt", "schema_name"), [("sarif", "sarif-schema-2.1.0.json"), ("rdjson", "rdjson.schema.json")]
)
def test_council_review_writes_valid_sarif_and_rdjson(
    fmt: str, schema_name: str, tmp_path: Path, model: ScriptedModelServer
) -> None:
    finding = {
        "path": "app.py",
        "line": 2,
        "end_line": None,
        "severity": "high",
        "category": "correctness",
        "title": "Off by one",
        "body": "Adds one too many.",
        "suggestion": "    return x",
        "confidence": 0.9,
        "evidence": "return x + 1",
    }
    model.reset([Rule("# Code review: correctness", Reply.structured({"findings": [finding]}))])
    repo = one_line_change(tmp_path)
    env = council_env(tmp_path / "council", model.base_url)
    env.update(OPENAI_BASE_URL=model.openai_base_url, OPENAI_API_KEY="x")
    result = run_council(
        ["review", "--runtime", "openai", "--model", "openai/m", "--agents", "correctness",
         "--format", fmt, "--fail-on", "never"],
        cwd=repo.root,
        env=env,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    doc = result.json()
    validate(doc, schema_name)
    if fmt == "sarif":
        (res,) = doc["runs"][0]["results"]
        assert res["ruleId"] == "council/correctness"
        assert res["locations"][0]["physicalLocation"]["region"]["startLine"] == 2
    else:
        (diagnostic,) = doc["diagnostics"]
        assert diagnostic["location"]["path"] == "app.py"
        assert diagnostic["suggestions"][0]["range"] == {"start": {"line": 2}, "end": {"line": 2}}
