"""Pieces every HTTP runtime shares: SSE decoding, status mapping, Retry-After."""

from __future__ import annotations

import email.utils
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx

from coordinator.errors import RetryableSessionError, SessionError

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
