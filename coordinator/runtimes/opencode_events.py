"""One ``/event`` SSE connection per server, routed to the sessions that wait on it.

OpenCode's stream has no replay, so sessions register before they prompt. When
the stream drops, the hub reconnects and asks ``/session/status`` which of its
sessions went idle meanwhile; if it cannot reconnect it fails every waiter.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from coordinator.runtimes.http_api import iter_sse_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StreamLost:
    """Put in every waiter's queue when the event stream is gone for good."""

    reason: str


SessionEvent = dict[str, Any] | StreamLost


def event_session_id(event: dict[str, Any]) -> str | None:
    props = event.get("properties") or {}
    sid = props.get("sessionID")
    if sid:
        return str(sid)
    for key in ("part", "info"):
        inner = props.get(key)
        if isinstance(inner, dict) and inner.get("sessionID"):
            return str(inner["sessionID"])
    return None


class EventHub:
    def __init__(self, client: httpx.AsyncClient, directory: str) -> None:
        self._client = client
        self._directory = directory
        self._waiters: dict[str, MemoryObjectSendStream[SessionEvent]] = {}
        self._connected = anyio.Event()
        self._closed = False
        self.failure: str | None = None

    @asynccontextmanager
    async def subscribe(
        self, session_id: str
    ) -> AsyncIterator[MemoryObjectReceiveStream[SessionEvent]]:
        send, receive = anyio.create_memory_object_stream[SessionEvent](math.inf)
        self._waiters[session_id] = send
        if self.failure is not None:
            send.send_nowait(StreamLost(self.failure))
        try:
            async with receive:
                yield receive
        finally:
            self._waiters.pop(session_id, None)
            send.close()

    async def wait_connected(self) -> None:
        await self._connected.wait()

    def _dispatch(self, event: dict[str, Any]) -> None:
        sid = event_session_id(event)
        if sid is not None and sid in self._waiters:
            self._waiters[sid].send_nowait(event)

    async def _reconcile(self) -> None:
        """After a reconnect: sessions that went idle while we were away get a synthetic idle."""
        response = await self._client.get("/session/status", params={"directory": self._directory})
        busy = response.json() if response.status_code == 200 else {}
        for sid in list(self._waiters):
            if sid not in busy:
                self._dispatch(
                    {"type": "session.idle", "properties": {"sessionID": sid}, "synthetic": True}
                )

    async def run(self, max_reconnects: int = 5) -> None:
        """Read the stream until cancelled; reconnect with backoff when it drops."""
        attempts = 0
        first = True
        while True:
            try:
                async with self._client.stream(
                    "GET",
                    "/event",
                    params={"directory": self._directory},
                    timeout=httpx.Timeout(10.0, read=None),
                ) as response:
                    if response.status_code != 200:
                        await response.aread()
                        raise httpx.HTTPStatusError(
                            f"GET /event answered {response.status_code}: {response.text[:200]}",
                            request=response.request,
                            response=response,
                        )
                    async for event in iter_sse_json(response):
                        if event.get("type") == "server.connected":
                            attempts = 0
                            if not first:
                                await self._reconcile()
                            first = False
                            self._connected.set()
                            continue
                        self._dispatch(event)
                reason = "event stream closed by the server"
            except httpx.HTTPError as exc:
                reason = f"event stream failed: {exc}"
            attempts += 1
            if attempts > max_reconnects:
                self._fail(f"lost the OpenCode event stream ({reason})")
                return
            await anyio.sleep(min(0.25 * 2**attempts, 4.0))

    def _fail(self, reason: str) -> None:
        self.failure = reason
        self._connected.set()
        for send in list(self._waiters.values()):
            send.send_nowait(StreamLost(reason))
