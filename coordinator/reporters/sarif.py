"""`--format sarif`: SARIF 2.1.0 for GitHub code scanning and other SARIF viewers.

One run, one rule per finding category (``council/security``), one result per
finding. What code scanning requires is always present: rules with short and
full descriptions and help, message text, a location, and
``partialFingerprints.primaryLocationLineHash``, which carries the finding's own
stable id (a hash of what it is about, not where), so an alert survives the code
moving. Suggestions become ``fixes`` that replace the finding's whole lines.
Failed reviewers become tool execution notifications: an incomplete review must
not look like a clean one.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from coordinator.findings import ReviewFinding, Severity
from coordinator.reporters.rule_ids import SARIF_LEVEL, category_slug, rule_id
from coordinator.review import Review, ReviewerStatus

SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
# Code scanning's own limits on rule descriptions.
_DESCRIPTION_LIMIT = 1024
# GitHub treats a rule as a security rule when it carries this score (CVSS-like, as text).
_SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}
_OK = (ReviewerStatus.OK, ReviewerStatus.CACHED, ReviewerStatus.SKIPPED)


def _text(value: str, limit: int = _DESCRIPTION_LIMIT) -> str:
    value = " ".join(value.split()) or "-"  # code scanning rejects empty required strings
    return value if len(value) <= limit else value[: limit - 1] + "\u2026"


def _uri(path: str) -> str:
    # A URI reference relative to %SRCROOT%: spaces and non-ASCII are percent-encoded.
    return quote(path, safe="/")


def _rule(category: str, findings: list[ReviewFinding]) -> dict[str, Any]:
    slug = category_slug(category)
    worst = min((f.severity for f in findings), key=lambda s: s.order)
    # Code scanning files a rule under "security" by this tag plus a security-severity score.
    properties: dict[str, Any] = {"tags": ["council", slug]}
    if slug == "security" and worst in _SECURITY_SEVERITY:
        properties["security-severity"] = _SECURITY_SEVERITY[worst]
    reviewers = sorted({r for f in findings for r in f.reviewers})
    return {
        "id": rule_id(category),
        "name": "".join(part.capitalize() for part in slug.split("-")),
        "shortDescription": {"text": _text(f"council: {category} problem")},
        "fullDescription": {
            "text": _text(
                f"A {category} problem that council's AI reviewers found in the change. "
                "Each result explains the problem; some carry a suggested fix."
            )
        },
        "help": {
            "text": _text(
                "Read the result's message for the reviewers' explanation. "
                f"Reported by: {', '.join(reviewers)}. AI findings can be wrong: "
                "check before acting.",
                4096,
            ),
            "markdown": (
                "Read the result's message for the reviewers' explanation. "
                f"Reported by: {', '.join(f'`{r}`' for r in reviewers)}.\n\n"
                "AI findings can be wrong: check before acting."
            ),
        },
        "defaultConfiguration": {"level": SARIF_LEVEL[worst]},
        "properties": properties,
    }


def _result(finding: ReviewFinding, rule_index: int) -> dict[str, Any]:
    region = {"startLine": finding.line, "endLine": finding.last_line}
    location = {"uri": _uri(finding.path), "uriBaseId": "%SRCROOT%"}
    message = finding.title if not finding.body else f"{finding.title}\n\n{finding.body}"
    result: dict[str, Any] = {
        "ruleId": rule_id(finding.category),
        "ruleIndex": rule_index,
        "level": SARIF_LEVEL[finding.severity],
        "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": location, "region": region}}],
        "partialFingerprints": {"primaryLocationLineHash": finding.id},
        "fingerprints": {"council/v1": finding.id},
        "rank": round(min(100.0, max(0.0, finding.score * 100.0)), 2),
        "properties": {
            "id": finding.id,
            "rank": finding.rank,
            "severity": finding.severity.value,
            "category": finding.category,
            "confidence": finding.confidence,
            "score": finding.score,
            "reviewers": list(finding.reviewers),
            "anchor": finding.anchor.value,
            "verdict": finding.verdict,
        },
    }
    if finding.suggestion is not None:
        result["fixes"] = [
            {
                "description": {"text": f"Replace lines {finding.line}-{finding.last_line}"},
                "artifactChanges": [
                    {
                        "artifactLocation": location,
                        # Whole lines; the region ends before the last line's newline.
                        "replacements": [
                            {
                                "deletedRegion": region,
                                "insertedContent": {"text": finding.suggestion.rstrip("\n")},
                            }
                        ],
                    }
                ],
            }
        ]
    return result


def review_to_sarif(review: Review) -> dict[str, Any]:
    by_category: dict[str, list[ReviewFinding]] = {}
    for finding in review.findings:
        by_category.setdefault(rule_id(finding.category), []).append(finding)
    rule_ids = sorted(by_category)
    rules = [_rule(by_category[r][0].category, by_category[r]) for r in rule_ids]
    index = {r: i for i, r in enumerate(rule_ids)}
    notifications = [
        {
            "level": "error",
            "message": {
                "text": f"reviewer {r.agent} {r.status.value}: {r.error or 'no reason given'}"
            },
            "descriptor": {"id": f"council/reviewer-{r.status.value}"},
        }
        for r in review.reviewers
        if r.status not in _OK
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not review.incomplete}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run = {
        "tool": {
            "driver": {
                "name": review.tool.name,
                "semanticVersion": review.tool.version,
                "rules": rules,
            }
        },
        "invocations": [invocation],
        "results": [_result(f, index[rule_id(f.category)]) for f in review.findings],
        "properties": {
            "diff": review.diff.model_dump(mode="json"),
            "summary": review.summary.model_dump(mode="json"),
            "unreviewed": [u.model_dump(mode="json") for u in review.unreviewed],
        },
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(review: Review) -> str:
    return json.dumps(review_to_sarif(review), indent=2, ensure_ascii=False) + "\n"
