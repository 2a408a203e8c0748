"""Pieces every HTTP runtime shares: the client and model, SSE decoding, status
mapping, Retry-After."""

from __future__ import annotations

import email.utils
import json
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from coordinator.errors import RetryableSessionError, RuntimeUnavailable, SessionError
from coordinator.runtimes.base import SessionSpec

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(30.0, read=300.0)


async def iter_sse_json(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """Yield each ``data:`` payload of an SSE response as JSON; skip what is not JSON."""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif not line.strip() and data:
            text = "\n".join(data)
            data = []
            try:
                payload = json.loads(text)
            except json.JSONDecodeError:
                log.debug("ignoring non-JSON SSE frame: %.200s", text)
                continue
            if isinstance(payload, dict):
                yield payload


def is_retryable_status(status: int) -> bool:
    """Worth another attempt: timeouts, conflicts, rate limits, 5xx and Anthropic's 529."""
    return status in (408, 409, 429) or status >= 500


def retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def status_error(api: str, response: httpx.Response, message: str) -> SessionError:
    text = f"{api} API answered HTTP {response.status_code}: {message}"
    if is_retryable_status(response.status_code):
        return RetryableSessionError(text, retry_after=retry_after(response.headers))
    return SessionError(text)


class HttpApiRuntime(ABC):
    """One HTTP client for a run, and the model each session asks for.

    A subclass names its API (``name``, also the model prefix it strips), the
    environment it reads, the URL it defaults to, and how it sends the key.
    """

    name: str
    DEFAULT_BASE_URL: ClassVar[str]
    KEY_ENV: ClassVar[str]
    URL_ENV: ClassVar[str]
    MODEL_ENV: ClassVar[str]
    NO_KEY: ClassVar[str]  # why it cannot start with neither a key nor another URL

    def __init__(
        self,
        env: Mapping[str, str] | None,
        timeout: httpx.Timeout,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        env = os.environ if env is None else env
        self._api_key = env.get(self.KEY_ENV) or None
        self._base_url = (env.get(self.URL_ENV) or self.DEFAULT_BASE_URL).rstrip("/")
        self._default_model = env.get(self.MODEL_ENV) or None
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    @abstractmethod
    def _headers(self, api_key: str | None) -> dict[str, str]:
        """How this API is sent the key (and any header it always wants)."""

    async def __aenter__(self) -> Self:
        if self._api_key is None and self._base_url == self.DEFAULT_BASE_URL:
            raise RuntimeUnavailable(self.NO_KEY)
        self._client = httpx.AsyncClient(
            base_url=self._base_url,
            headers=self._headers(self._api_key),
            timeout=self._timeout,
            transport=self._transport,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    def default_model(self) -> str | None:
        return self._default_model

    def _client_and_model(self, spec: SessionSpec) -> tuple[httpx.AsyncClient, str]:
        """The run's client and the session's model, without the ``name/`` prefix."""
        if self._client is None:
            raise RuntimeError(f"{type(self).__name__} used outside 'async with'")
        model = spec.model or spec.agent.model
        model = model.removeprefix(f"{self.name}/") if model else self._default_model
        if not model:
            raise SessionError(
                f"no model for the {self.name} runtime: pass --model {self.name}/MODEL, "
                f"set 'model' in the agent, or set {self.MODEL_ENV}"
            )
        return self._client, model
