"""`--format json`: the review JSON of DESIGN.md, keys in the documented order."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from coordinator.review import Review

# ReviewFinding inherits the Finding fields first; DESIGN.md leads with id, rank, score.
_FINDING_KEYS = (
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
)


def _ordered(obj: dict[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The documented keys in order, then any others (fields added later) as they come."""
    head = {k: obj[k] for k in keys if k in obj}
    return head | {k: v for k, v in obj.items() if k not in head}


def review_to_json_data(review: Review) -> dict[str, Any]:
    data = review.model_dump(mode="json")
    data["findings"] = [_ordered(f, _FINDING_KEYS) for f in data["findings"]]
    return data


def render_json(review: Review) -> str:
    # ensure_ascii=False: non-ASCII paths and titles stay readable; the output is UTF-8.
    return json.dumps(review_to_json_data(review), indent=2, ensure_ascii=False) + "\n"
