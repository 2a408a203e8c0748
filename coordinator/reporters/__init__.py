"""Reporters: render a finished Review as text for a person or a program.

An edge of the package: reporters read a Review and return a string; writing it
(stdout, -o FILE, a PR comment) is the caller's job. Register a format by adding
it to `REPORTERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coordinator.reporters.json_report import render_json
from coordinator.reporters.markdown import render_markdown
from coordinator.reporters.rdjson import render_rdjson
from coordinator.reporters.sarif import render_sarif
from coordinator.reporters.text import render_plain_text
from coordinator.review import Review


class Reporter(Protocol):
    """One output format: a pure function of the review."""

    def __call__(self, review: Review, /) -> str: ...


REPORTERS: dict[str, Callable[[Review], str]] = {
    "text": render_plain_text,  # the CLI calls render_text(color=...) itself on a terminal
    "markdown": render_markdown,
    "json": render_json,
    "sarif": render_sarif,
    "rdjson": render_rdjson,
}

__all__ = [
    "REPORTERS",
    "Reporter",
    "render_json",
    "render_markdown",
    "render_plain_text",
    "render_rdjson",
    "render_sarif",
]
