"""Locate the data shipped with council: built-in agents and prompt templates.

In a wheel they live in ``coordinator/_data/`` (hatch force-include); in a source
checkout they are the top-level ``agents/`` and ``prompts/`` folders.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    installed = _PACKAGE_DIR / "_data" / name
    if installed.is_dir():
        return installed
    checkout = _PACKAGE_DIR.parent / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"council's built-in {name}/ folder is missing (looked in {installed})")


def builtin_agents_dir() -> Path:
    return data_dir("agents")


def prompts_dir() -> Path:
    return data_dir("prompts")
