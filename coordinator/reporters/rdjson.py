"""`--format rdjson`: reviewdog's Diagnostic Format, to post through reviewdog anywhere.

    council review --format rdjson main...HEAD \\
      | reviewdog -f=rdjson -name=council -reporter=gitlab-mr-discussion

Ranges are line-wise (no columns), so each covers the finding's whole lines,
and a suggestion's range equals its diagnostic's: reviewdog's GitHub and GitLab
reporters only turn a suggestion into an applicable change when the two match.
Suggestion text carries no final newline; reviewdog adds it when it writes the
suggestion block.
"""

from __future__ import annotations

import json
from typing import Any

from coordinator.findings import ReviewFinding
from coordinator.reporters.rule_ids import RDJSON_SEVERITY, rule_id
from coordinator.review import Review


def _diagnostic(finding: ReviewFinding) -> dict[str, Any]:
    span = {"start": {"line": finding.line}, "end": {"line": finding.last_line}}
    message = finding.title if not finding.body else f"{finding.title}\n\n{finding.body}"
    diagnostic: dict[str, Any] = {
        "message": message,
        "location": {"path": finding.path, "range": span},
        "severity": RDJSON_SEVERITY[finding.severity],
        "source": {"name": "council"},
        "code": {"value": rule_id(finding.category)},
        # What has no rdjson field rides along as the "original output", as JSON text.
        "original_output": json.dumps(
            {
                "id": finding.id,
                "rank": finding.rank,
                "severity": finding.severity.value,
                "category": finding.category,
                "confidence": finding.confidence,
                "score": finding.score,
                "reviewers": finding.reviewers,
                "anchor": finding.anchor.value,
            },
            ensure_ascii=False,
        ),
    }
    if finding.suggestion is not None:
        diagnostic["suggestions"] = [{"range": span, "text": finding.suggestion.rstrip("\n")}]
    return diagnostic


def review_to_rdjson(review: Review) -> dict[str, Any]:
    return {
        "source": {"name": "council"},
        "diagnostics": [_diagnostic(f) for f in review.findings],
    }


def render_rdjson(review: Review) -> str:
    return json.dumps(review_to_rdjson(review), indent=2, ensure_ascii=False) + "\n"
