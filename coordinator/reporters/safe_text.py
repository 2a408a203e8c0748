"""Make model-written text safe to publish: no live @mentions, no raw HTML, no secrets.

Reviewer output is data that an injected diff may have steered. Before it is posted
(a PR comment, a job summary, a Markdown file) mentions are defused so nobody is
pinged, HTML is escaped so nothing renders as markup, and anything shaped like a
credential is redacted.
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"(?<![\w`@/])@(?=[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:/[\w.-]+)?)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_SECRETS = re.compile(
    r"gh[pousr]_[A-Za-z0-9]{20,}"
    r"|github_pat_[A-Za-z0-9_]{20,}"
    r"|sk-(?:ant-)?[A-Za-z0-9_-]{16,}"
    r"|AKIA[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
)
ZERO_WIDTH_SPACE = "\u200b"


def strip_control(text: str) -> str:
    """Remove control characters (terminal escapes, bidi overrides); keep newlines and tabs."""
    return _CONTROL.sub("", text)


def scrub_secrets(text: str) -> str:
    return _SECRETS.sub("[redacted]", text)


def safe_prose(text: str) -> str:
    """For text rendered as Markdown: defuse mentions, escape HTML, redact secrets."""
    text = _CONTROL.sub("", scrub_secrets(text))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub("@" + ZERO_WIDTH_SPACE, text)


def safe_code(text: str) -> str:
    """For text inside a code fence (nothing renders there): only redact secrets."""
    return _CONTROL.sub("", scrub_secrets(text))


def truncate(text: str, limit: int, marker: str = "\n\n[... truncated ...]") -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(marker))] + marker
