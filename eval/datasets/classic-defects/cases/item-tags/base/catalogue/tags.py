"""Tags on catalogue items."""

from __future__ import annotations

MAX_TAG_LENGTH = 32


def valid_tag(tag: str) -> bool:
    return 0 < len(tag) <= MAX_TAG_LENGTH and tag.replace("-", "").isalnum()
