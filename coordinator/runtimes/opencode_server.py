"""Spawn and stop a private ``opencode serve`` process.

The server runs in its own process group on a free loopback port with a random
password; stopping it signals the whole group so no child survives council.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import PIPE
from typing import Any

import anyio
from anyio.abc import Process, TaskGroup
from anyio.streams.text import TextReceiveStream

from coordinator.errors import RuntimeUnavailable

_LISTENING = re.compile(r"listening on (https?://\S+)")


@dataclass
class SpawnedServer:
    url: str
    password: str
    process: Process
    log_tail: deque[str] = field(default_factory=lambda: deque(maxlen=40))

    @property
    def exited(self) -> bool:
        return self.process.returncode is not None

    def describe_exit(self) -> str:
        tail = "\n".join(self.log_tail)
        return f"opencode serve exited with code {self.process.returncode}" + (
            f":\n{tail}" if tail else ""
        )


def find_opencode(binary: str | None) -> str:
    path = shutil.which(binary or "opencode")
    if path is None:
        raise RuntimeUnavailable(
            f"'{binary or 'opencode'}' was not found on PATH. Install it with "
            "'npm install -g opencode-ai', pass --opencode-url to use a running server, "
            "or choose another --runtime."
        )
    return path


async def _drain(stream: Any, tail: deque[str]) -> None:
    try:
        async for chunk in TextReceiveStream(stream, errors="replace"):
            for line in chunk.splitlines():
                if line.strip():
                    tail.append(line)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass  # stop_server closed the pipe: the server is gone, nothing more to read


async def spawn_server(
    task_group: TaskGroup,
    *,
    binary: str,
    workdir: Path,
    config: Mapping[str, Any],
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 45.0,
) -> SpawnedServer:
    """Start ``opencode serve`` and return once it prints its URL.

    Output is drained by tasks in ``task_group`` for the server's whole life so the
    pipes never fill; the last lines are kept for error messages.
    """
    password = secrets.token_urlsafe(24)
    child_env = dict(os.environ if env is None else env)
    child_env.update(
        {
            "OPENCODE_SERVER_PASSWORD": password,
            "OPENCODE_SERVER_USERNAME": "opencode",
            "OPENCODE_CONFIG_CONTENT": json.dumps(config),
            # Headless: no self-update, no share links, no background downloads.
            "OPENCODE_DISABLE_AUTOUPDATE": "1",
            "OPENCODE_DISABLE_SHARE": "1",
            "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        }
    )
    try:
        process = await anyio.open_process(
            [binary, "serve", "--port", "0", "--hostname", "127.0.0.1"],
            cwd=workdir,
            env=child_env,
            stdin=None,
            stdout=PIPE,
            stderr=PIPE,
            start_new_session=True,
        )
    except OSError as exc:
        raise RuntimeUnavailable(f"cannot start {binary}: {exc.strerror}") from exc
    server = SpawnedServer(url="", password=password, process=process)
    assert process.stdout is not None
    assert process.stderr is not None
    task_group.start_soon(_drain, process.stderr, server.log_tail)
    stdout = TextReceiveStream(process.stdout, errors="replace")
    buffer = ""
    try:
        with anyio.fail_after(startup_timeout):
            async for chunk in stdout:
                buffer += chunk
                *lines, buffer = buffer.split("\n")
                for line in lines:
                    server.log_tail.append(line)
                    match = _LISTENING.search(line)
                    if match:
                        server.url = match.group(1).rstrip("/")
                        break
                if server.url:
                    break
    except TimeoutError:
        await stop_server(server)
        raise RuntimeUnavailable(
            f"opencode serve did not report a URL within {startup_timeout:.0f}s"
        ) from None
    except BaseException:
        await stop_server(server)
        raise
    if not server.url:
        await process.wait()
        raise RuntimeUnavailable(server.describe_exit())
    task_group.start_soon(_drain, process.stdout, server.log_tail)
    return server


async def stop_server(server: SpawnedServer, grace: float = 5.0) -> None:
    """SIGTERM the server's process group, then SIGKILL what is left after ``grace``."""
    with anyio.CancelScope(shield=True):
        pid = server.process.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            with anyio.move_on_after(grace):
                await server.process.wait()
            if server.exited:
                # The leader is gone; make sure no straggler in its group survives it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                break
        await server.process.aclose()
