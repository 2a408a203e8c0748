"""Text helpers for the blog."""

from __future__ import annotations

import re

_SPACES = re.compile(r"\s+")


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
