"""The seam between council and agent runtimes.

A runtime runs one reviewer session at a time per ``open_session`` and answers
each prompt with a ``TurnResult``. Cross-cutting behaviour (timeouts, retries,
concurrency, budget) wraps runtimes in ``coordinator.session``; it is not built
into each runtime.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self

from coordinator.agents import AgentSpec
from coordinator.events import EventSink, Usage


@dataclass(frozen=True)
class ToolCall:
    tool: str
    target: str
    status: str


@dataclass(frozen=True)
class SessionSpec:
    key: str  # assignment key, "agent#chunk"
    title: str
    agent: AgentSpec
    model: str | None  # "provider/model"; None lets the runtime pick its default
    workdir: Path
    output_schema: dict[str, Any]
    # Fixed text for every session of this reviewer, sent after the agent's prompt
    # as system text: a stable prefix that providers can cache across sessions.
    instructions: str = ""

    @property
    def system_prompt(self) -> str:
        """The whole system text: the agent's prompt, then the shared instructions."""
        if not self.instructions:
            return self.agent.prompt
        return f"{self.agent.prompt.rstrip()}\n\n{self.instructions}"


@dataclass
class TurnResult:
    text: str  # the answer's text (may be empty when structured is set)
    structured: dict[str, Any] | None  # the runtime's structured output, when it has one
    usage: Usage  # the session's running totals after this turn
    tool_calls: list[ToolCall] = field(default_factory=list)
    session_id: str = ""
    model: str | None = None  # the model that really answered, when the runtime says


class RuntimeSession(Protocol):
    async def prompt(self, text: str) -> TurnResult:
        """Send one user message and wait for the whole agent loop to end.

        Raises ``SessionError`` (or ``RetryableSessionError``) with a readable reason.
        """
        ...


class Runtime(Protocol):
    name: str

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def open_session(
        self, spec: SessionSpec, emit: EventSink
    ) -> AbstractAsyncContextManager[RuntimeSession]:
        """A session that is aborted on the far side if the context exits early."""
        ...

    def default_model(self) -> str | None:
        """The model used when neither the agent nor the command line names one."""
        ...
