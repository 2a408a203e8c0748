"""Reporters: the review JSON contract, Markdown and terminal text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from coordinator.findings import Anchor, RejectedFinding, ReviewFinding, Severity, Unreviewed
from coordinator.reporters import REPORTERS, Reporter
from coordinator.reporters.json_report import render_json
from coordinator.reporters.markdown import render_markdown
from coordinator.reporters.text import render_text
from coordinator.review import (
    DiffSummary,
    FailOn,
    Review,
    ReviewerReport,
    ReviewerStatus,
    summarise,
)

ANSI = re.compile(r"\x1b\[")


def make_review(*, findings: bool = True) -> Review:
    items = (
        [
            ReviewFinding(
                id="0123456789abcdef",
                rank=1,
                score=1.225,
                path="app/db.py",
                line=10,
                end_line=11,
                severity=Severity.CRITICAL,
                category="security",
                title="SQL injection via f-string [bold]",
                body="User input reaches `cur.execute` unescaped.",
                suggestion='cur.execute("SELECT * FROM t WHERE id = %s", (uid,))\n```',
                confidence=0.98,
                evidence='cur.execute(f"SELECT * FROM t WHERE id = {uid}")',
                reviewers=["correctness", "security"],
                anchor=Anchor.ADDED,
            ),
            ReviewFinding(
                id="fedcba9876543210",
                rank=2,
                score=0.25,
                path="docs/ünïcode.md",
                line=3,
                severity=Severity.LOW,
                category="docs",
                title="Typo in heading",
                confidence=1.0,
                reviewers=["guidelines"],
                anchor=Anchor.CONTEXT,
            ),
        ]
        if findings
        else []
    )
    return Review(
        diff=DiffSummary(base="abc123", head=None, files=3, additions=20, deletions=4),
        reviewers=[
            ReviewerReport(
                agent="security",
                runtime="opencode",
                model="anthropic/claude-sonnet-4-5",
                status=ReviewerStatus.OK,
                sessions=2,
                duration_s=12.3,
                tokens_in=9000,
                tokens_out=800,
                cost_usd=0.03,
                findings=1,
            ),
            ReviewerReport(
                agent="performance",
                runtime="anthropic",
                model=None,
                status=ReviewerStatus.FAILED,
                sessions=1,
                duration_s=2.0,
                tokens_in=1234,
                tokens_out=56,
                cost_usd=0.0012,
                findings=0,
                error="answer did not match the schema",
            ),
        ],
        findings=items,
        rejected=[
            RejectedFinding(
                path="app/x.py",
                line=999,
                severity=Severity.MEDIUM,
                category="performance",
                title="Slow loop",
                confidence=0.5,
                reviewer="performance",
                reason="location outside the diff (app/x.py:999)",
            )
        ],
        unreviewed=[Unreviewed(path="assets/logo.bin", reason="binary")],
        summary=summarise(items, FailOn.HIGH),
    )


# -- JSON -------------------------------------------------------------------------------

_NULLABLE_STR = {"type": ["string", "null"]}
_FINDING_PROPS: dict[str, Any] = {
    "path": {"type": "string", "minLength": 1},
    "line": {"type": "integer", "minimum": 1},
    "end_line": {"type": ["integer", "null"], "minimum": 1},
    "severity": {"enum": [s.value for s in Severity]},
    "category": {"type": "string"},
    "title": {"type": "string"},
    "body": {"type": "string"},
    "suggestion": _NULLABLE_STR,
    "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    "evidence": _NULLABLE_STR,
}


def _object(props: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": [k for k in props if k not in optional],
        "additionalProperties": False,
    }


REVIEW_SCHEMA: dict[str, Any] = _object(
    {
        "schema_version": {"const": 1},
        "tool": _object({"name": {"const": "council"}, "version": {"type": "string"}}),
        "diff": _object(
            {
                "base": _NULLABLE_STR,
                "head": _NULLABLE_STR,
                "files": {"type": "integer"},
                "additions": {"type": "integer"},
                "deletions": {"type": "integer"},
            }
        ),
        "reviewers": {
            "type": "array",
            "items": _object(
                {
                    "agent": {"type": "string"},
                    "runtime": {"type": "string"},
                    "model": _NULLABLE_STR,
                    "status": {
                        "enum": ["ok", "failed", "timeout", "cancelled", "cached", "skipped"]
                    },
                    "sessions": {"type": "integer"},
                    "duration_s": {"type": "number"},
                    "tokens_in": {"type": "integer"},
                    "tokens_out": {"type": "integer"},
                    "cost_usd": {"type": "number"},
                    "findings": {"type": "integer"},
                    "error": _NULLABLE_STR,
                    # An addition to DESIGN.md's shape: sessions retried after transient failures.
                    "retries": {"type": "integer", "minimum": 0},
                }
            ),
        },
        "findings": {
            "type": "array",
            "items": _object(
                {
                    "id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
                    "rank": {"type": "integer", "minimum": 1},
                    "score": {"type": "number"},
                    **_FINDING_PROPS,
                    "reviewers": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "anchor": {"enum": [a.value for a in Anchor]},
                    "verdict": _NULLABLE_STR,
                }
            ),
        },
        "rejected": {
            "type": "array",
            "items": _object(
                {**_FINDING_PROPS, "reviewer": {"type": "string"}, "reason": {"type": "string"}}
            ),
        },
        "unreviewed": {
            "type": "array",
            "items": _object(
                {"path": {"type": "string"}, "reason": {"type": "string"}, "detail": _NULLABLE_STR},
                optional=("detail",),
            ),
        },
        "summary": _object(
            {
                "counts": _object({s.value: {"type": "integer"} for s in Severity}),
                "fail_on": {"enum": [f.value for f in FailOn]},
                "failed": {"type": "boolean"},
            }
        ),
    }
)


@pytest.mark.parametrize("with_findings", [True, False])
def test_json_matches_the_design_schema_and_round_trips(with_findings: bool) -> None:
    review = make_review(findings=with_findings)
    text = render_json(review)
    assert text.endswith("}\n")
    data = json.loads(text)
    Draft202012Validator.check_schema(REVIEW_SCHEMA)
    errors = list(Draft202012Validator(REVIEW_SCHEMA).iter_errors(data))
    assert errors == []
    assert Review.model_validate_json(text) == review


def test_json_keys_are_in_the_documented_order() -> None:
    data = json.loads(render_json(make_review()))
    assert list(data) == [
        "schema_version",
        "tool",
        "diff",
        "reviewers",
        "findings",
        "rejected",
        "unreviewed",
        "summary",
    ]
    assert list(data["findings"][0]) == [
        "id",
        "rank",
        "score",
        "path",
        "line",
        "end_line",
        "severity",
        "category",
        "title",
        "body",
        "suggestion",
        "confidence",
        "evidence",
        "reviewers",
        "anchor",
        "verdict",
    ]
    assert list(data["rejected"][0])[-2:] == ["reviewer", "reason"]
    assert list(data["summary"]["counts"]) == ["critical", "high", "medium", "low", "info"]
    assert data["summary"] == {
        "counts": {"critical": 1, "high": 0, "medium": 0, "low": 1, "info": 0},
        "fail_on": "high",
        "failed": True,
    }


def test_json_is_pretty_and_keeps_non_ascii() -> None:
    text = render_json(make_review())
    assert '\n  "schema_version": 1,' in text
    assert "docs/ünïcode.md" in text


# -- Markdown -------------------------------------------------------------------------------


def test_markdown_has_the_key_facts() -> None:
    md = render_markdown(make_review())
    assert md.startswith("## council review\n")
    assert "**failed**" in md
    assert "| 1 | 0 | 0 | 1 | 0 |" in md
    assert md.index("### Critical (1)") < md.index("### Low (1)")
    assert "`app/db.py:10-11`" in md
    assert "reviewers: correctness, security" in md
    assert "User input reaches `cur.execute` unescaped." in md
    # The suggestion holds ``` itself, so the fence must be longer.
    assert '````suggestion\ncur.execute("SELECT * FROM t WHERE id = %s", (uid,))\n```\n````' in md
    assert "```python\ncur.execute(f" in md
    # Reviewers table: tokens in/out and cost per reviewer, plus the failure.
    assert (
        "| security | ok | opencode · anthropic/claude-sonnet-4-5 | 2 | 12.3s | 9,000 | 800 | $0.0300 | 1 |"
        in md
    )
    assert "| performance | failed | anthropic | 1 | 2.0s | 1,234 | 56 | $0.0012 | 0 |" in md
    assert "**performance** failed: answer did not match the schema" in md
    assert "<summary>Rejected findings (1)</summary>" in md
    assert "location outside the diff (app/x.py:999)" in md
    assert "<summary>Unreviewed files (1)</summary>" in md
    assert "`assets/logo.bin`: binary" in md
    assert md.endswith("</details>\n")


def test_markdown_passes_and_reports_no_findings() -> None:
    md = render_markdown(make_review(findings=False))
    assert "**passed**" in md
    assert "No findings." in md


# -- text ---------------------------------------------------------------------------------


def test_text_without_colour_is_plain_and_has_the_key_facts() -> None:
    out = render_text(make_review(), color=False, width=120)
    assert not ANSI.search(out)
    assert "council review: FAILED (fail-on high)" in out
    assert "[CRITICAL] app/db.py:10-11  SQL injection via f-string [bold]" in out
    assert "[LOW] docs/ünïcode.md:3  Typo in heading" in out
    assert "reviewers: correctness, security" in out
    assert 'cur.execute(f"SELECT * FROM t WHERE id = {uid}")' in out  # the code line
    assert '+ cur.execute("SELECT * FROM t WHERE id = %s", (uid,))' in out  # the suggestion
    assert out.index("CRITICAL (1)") < out.index("LOW (1)")
    for fact in ("9,000", "800", "$0.0300", "1,234", "56", "$0.0012", "10,234", "$0.0312"):
        assert fact in out
    assert "performance failed: answer did not match the schema" in out
    assert "rejected: 1 · unreviewed: 1" in out


def test_text_with_colour_uses_ansi_and_respects_width() -> None:
    out = render_text(make_review(), color=True, width=60)
    assert ANSI.search(out)
    plain = ANSI.sub("", re.sub(r"\x1b\[[0-9;]*m", "", out))
    assert max(len(line) for line in plain.splitlines()) <= 60


def test_text_without_findings() -> None:
    out = render_text(make_review(findings=False), color=False)
    assert "PASSED" in out
    assert "No findings." in out


# -- registry -------------------------------------------------------------------------------


def test_registry_renders_every_format() -> None:
    review = make_review()
    assert {"text", "markdown", "json"} <= set(REPORTERS)
    for name, reporter in REPORTERS.items():
        out = reporter(review)
        assert out.endswith("\n"), name
        assert "security" in out, name
    assert not ANSI.search(REPORTERS["text"](review))


def test_a_plain_function_is_a_reporter() -> None:
    reporter: Reporter = render_markdown
    assert reporter(make_review()).startswith("## council review")


def test_text_output_strips_terminal_escapes_from_model_text() -> None:
    from coordinator.reporters.text import render_text

    review = make_review()
    hostile = review.findings[0].model_copy(
        update={"title": "ok\x1b]0;pwned\x07\x1b[2J title", "body": "b\x1b[31m"}
    )
    review = review.model_copy(update={"findings": [hostile, *review.findings[1:]]})
    out = render_text(review, color=False)
    assert "\x1b" not in out
    assert "ok]0;pwned[2J title" in out.replace("\n", "")
