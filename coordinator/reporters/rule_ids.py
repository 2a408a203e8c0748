"""Stable rule ids and levels shared by the machine-readable formats (SARIF, rdjson).

Code scanning keys alerts on the rule id, so it must not change between runs:
it is derived from the finding's category only, never from its wording.
"""

from __future__ import annotations

import re

from coordinator.findings import Severity

RULE_PREFIX = "council"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
MAX_SLUG = 64


def category_slug(category: str) -> str:
    """``"Error handling"`` -> ``"error-handling"``; empty or symbol-only -> ``"general"``."""
    slug = _NOT_SLUG.sub("-", category.strip().lower()).strip("-")[:MAX_SLUG].strip("-")
    return slug or "general"


def rule_id(category: str) -> str:
    return f"{RULE_PREFIX}/{category_slug(category)}"


# critical and high block a merge in most teams; medium is worth a look; the rest is advice.
SARIF_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
RDJSON_SEVERITY = {
    Severity.CRITICAL: "ERROR",
    Severity.HIGH: "ERROR",
    Severity.MEDIUM: "WARNING",
    Severity.LOW: "INFO",
    Severity.INFO: "INFO",
}
