"""Make reviewer text safe to post on GitHub.

Reviewer output is data that a hostile diff may have steered, and GitHub acts
on what it renders. Prose (outside code) is escaped so it cannot:

- ping people or teams (``@name`` gets a zero-width space after the ``@``);
- cross-reference issues and PRs (``#123`` likewise);
- render raw HTML, hide text in comments or spoof council's own markers
  (``<``, ``>`` and ``&`` are escaped);
- fetch an image on render, a classic exfiltration channel (``![`` is
  defused, so it stays a plain link).

Code spans and fenced blocks are left as written (GitHub renders neither HTML
nor mentions there, and a suggestion must stay byte-exact). Everywhere, known
secret values (this job's tokens and keys) and credential-shaped strings are
replaced by ``[redacted]``, and control and bidi characters are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from coordinator.reporters.safe_text import scrub_secrets

REDACTED = "[redacted]"
ZWSP = "\u200b"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_FENCE_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?!`)[\s\S]*?(?<!`)\1(?!`)")
_MENTION = re.compile(r"(?<![\w@`])@(?=[A-Za-z0-9])")
_ISSUE_REF = re.compile(r"#(?=\d)")
_IMAGE = re.compile(r"!\[")
# Names of environment variables whose values must never be posted.
_SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|API_KEY|_KEY$|_PAT$")
_MIN_SECRET_LENGTH = 8


def secret_values(env: Mapping[str, str]) -> tuple[str, ...]:
    """Values of secret-looking variables, longest first (so a prefix never masks a longer one)."""
    values = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LENGTH}
    return tuple(sorted(values, key=len, reverse=True))


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    for value in secrets:
        text = text.replace(value, REDACTED)
    return _CONTROL.sub("", scrub_secrets(text))


def _safe_prose(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MENTION.sub("@" + ZWSP, text)
    text = _ISSUE_REF.sub("#" + ZWSP, text)
    return _IMAGE.sub("!" + ZWSP + "[", text)


def _safe_inline(text: str) -> str:
    out: list[str] = []
    pos = 0
    for span in _CODE_SPAN.finditer(text):
        out.append(_safe_prose(text[pos : span.start()]))
        out.append(span.group(0))
        pos = span.end()
    out.append(_safe_prose(text[pos:]))
    return "".join(out)


def safe_markdown(text: str, secrets: Iterable[str] = ()) -> str:
    """Reviewer Markdown, made safe as described above; fences and code spans kept."""
    text = scrub(text, secrets)
    out: list[str] = []
    prose: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        if fence is None:
            opened = _FENCE_OPEN.match(line)
            if opened is None:
                prose.append(line)
                continue
            if prose:
                out.append(_safe_inline("\n".join(prose)))
            prose = []
            fence = opened.group(1)
            out.append(line)
        else:
            out.append(line)
            stripped = line.strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                fence = None
    if prose:
        out.append(_safe_inline("\n".join(prose)))
    return "\n".join(out)


def safe_line(text: str, secrets: Iterable[str] = ()) -> str:
    """One line of prose (titles, table cells): whitespace collapsed, ``|`` escaped."""
    return " ".join(safe_markdown(text, secrets).split()).replace("|", "\\|")


def clip(text: str, limit: int, marker: str = "\u2026") -> str:
    return text if len(text) <= limit else text[: max(0, limit - len(marker))] + marker
