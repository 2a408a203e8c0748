"""Typed progress events: what front ends (progress lines, the TUI, a JSON log) consume.

The pipeline emits them through an ``EventSink`` and never imports a front end.
Every event names the assignment (``key``: "agent#chunk") and the agent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from coordinator.review import ReviewerStatus


@dataclass(frozen=True, slots=True)
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.tokens_in + other.tokens_in,
            self.tokens_out + other.tokens_out,
            self.cost_usd + other.cost_usd,
        )


@dataclass(frozen=True, slots=True)
class SessionQueued:
    key: str
    agent: str
    runtime: str
    chunk_index: int
    chunk_count: int
    paths: tuple[str, ...]
    kind: Literal["queued"] = "queued"


@dataclass(frozen=True, slots=True)
class SessionStarted:
    key: str
    agent: str
    session_id: str
    kind: Literal["started"] = "started"


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """A tool call the runtime reported (council observes; the runtime executes)."""

    key: str
    agent: str
    tool: str
    target: str  # e.g. the file read or the grep pattern; "" when unknown
    status: str  # pending, running, completed, error
    call_id: str = ""
    kind: Literal["tool"] = "tool"


@dataclass(frozen=True, slots=True)
class TextDelta:
    key: str
    agent: str
    text: str
    kind: Literal["text"] = "text"


@dataclass(frozen=True, slots=True)
class UsageUpdated:
    key: str
    agent: str
    usage: Usage
    kind: Literal["usage"] = "usage"


@dataclass(frozen=True, slots=True)
class SessionRetrying:
    key: str
    agent: str
    attempt: int
    reason: str
    delay_s: float
    kind: Literal["retrying"] = "retrying"


@dataclass(frozen=True, slots=True)
class SessionRepairing:
    key: str
    agent: str
    errors: str
    kind: Literal["repairing"] = "repairing"


@dataclass(frozen=True, slots=True)
class SessionFinished:
    key: str
    agent: str
    status: ReviewerStatus
    findings: int
    usage: Usage
    duration_s: float
    error: str | None = None
    kind: Literal["finished"] = "finished"


Event = (
    SessionQueued
    | SessionStarted
    | ToolCalled
    | TextDelta
    | UsageUpdated
    | SessionRetrying
    | SessionRepairing
    | SessionFinished
)
EventSink = Callable[[Event], None]


def discard(_event: Event) -> None:
    """An EventSink that ignores everything."""
