"""One exception tree for council. Each error maps to a documented exit code at the CLI."""

from __future__ import annotations


class CouncilError(Exception):
    """Base of every error council raises on purpose."""

    exit_code = 2


class ConfigError(CouncilError):
    """Bad flag, bad config file, unknown agent, no runtime: the user can fix it."""


class AgentError(ConfigError):
    """An agent definition that cannot be loaded."""


class RuntimeUnavailable(ConfigError):
    """A runtime that cannot start (binary missing, server not reachable)."""


class SessionError(CouncilError):
    """One reviewer session failed; the review goes on without it."""

    def __init__(self, message: str, *, raw_text: str | None = None) -> None:
        super().__init__(message)
        self.raw_text = raw_text


class RetryableSessionError(SessionError):
    """A failure worth retrying: rate limits, 5xx, dropped connections."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, raw_text: str | None = None
    ) -> None:
        super().__init__(message, raw_text=raw_text)
        self.retry_after = retry_after
