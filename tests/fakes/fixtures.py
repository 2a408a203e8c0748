"""pytest fixtures for the scripted model server and the real runtime binaries.

Import the ones a module needs (``from tests.fakes.fixtures import
model_server``) or re-export them from a conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from .model_server import ScriptedModelServer
from .opencode_env import (
    MissingBinaryError,
    OpencodeServer,
    find_binary,
    opencode_env,
    run_opencode_server,
)


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    """A fresh scripted model server for one test; script it with ``set_rules``."""
    with ScriptedModelServer() as server:
        yield server


@pytest.fixture(scope="session")
def shared_model_server() -> Iterator[ScriptedModelServer]:
    """One server for the whole run (for long-lived runtimes); call ``reset()`` per test."""
    with ScriptedModelServer() as server:
        yield server


def _binary(name: str) -> str:
    try:
        return find_binary(name)
    except MissingBinaryError as exc:
        message = str(exc)
    pytest.fail(message, pytrace=False)  # outside the except: no chained traceback


@pytest.fixture(scope="session")
def opencode_bin() -> str:
    """Path of the real ``opencode``; fails (never skips) when it is not installed."""
    return _binary("opencode")


@pytest.fixture(scope="session")
def claude_bin() -> str:
    """Path of the real ``claude``; fails (never skips) when it is not installed."""
    return _binary("claude")


StartOpencode = Callable[..., OpencodeServer]


@pytest.fixture
def start_opencode(opencode_bin: str, tmp_path: Path) -> Iterator[StartOpencode]:
    """``start_opencode(cwd, config)`` runs a hermetic ``opencode serve``; stopped at teardown.

    ``config`` is the inline OpenCode config (``fake_provider_config(...)`` plus
    agents). Server output goes to ``tmp_path/opencode-N/server.log`` (``server.log()``).
    """
    with ExitStack() as stack:
        count = 0

        def start(cwd: Path, config: Mapping[str, Any], *, timeout: float = 30.0) -> OpencodeServer:
            nonlocal count
            count += 1
            state = tmp_path / f"opencode-{count}"
            state.mkdir()
            return stack.enter_context(
                run_opencode_server(
                    opencode_bin,
                    cwd=cwd,
                    env=opencode_env(state, config),
                    log_path=state / "server.log",
                    timeout=timeout,
                )
            )

        yield start
