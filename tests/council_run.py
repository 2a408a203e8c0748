"""Run the real ``council`` CLI against a real ``opencode serve`` and the scripted model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.opencode_env import fake_provider_config, find_binary, opencode_env


def council_env(tmp: Path, model_base_url: str) -> dict[str, str]:
    """A hermetic environment whose OpenCode user config knows only the fake provider."""
    env = opencode_env(tmp)
    config_dir = Path(env["XDG_CONFIG_HOME"]) / "opencode"
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "opencode.json").write_text(json.dumps(fake_provider_config(model_base_url)))
    env["COUNCIL_OPENCODE_BIN"] = find_binary("opencode")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    return env


@dataclass
class CouncilResult:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        try:
            doc: dict[str, Any] = json.loads(self.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"not JSON ({exc}):\n{self.stdout}\n--- stderr ---\n{self.stderr}"
            ) from exc
        return doc


def council_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "coordinator", *args]


@contextmanager
def council_in_background(
    args: Sequence[str], *, cwd: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[str]]:
    """``council ARGS``, running; killed if the test leaves it so."""
    proc = subprocess.Popen(
        council_argv(*args),
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def run_council(
    args: Sequence[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float = 120,
    stdin: str | None = None,
) -> CouncilResult:
    proc = subprocess.run(
        council_argv(*args),
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return CouncilResult(proc.returncode, proc.stdout, proc.stderr)


def processes_in(directory: Path) -> list[str]:
    """Processes whose working directory is ``directory``: a spawned server left behind shows here."""
    found = []
    target = str(directory.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "cwd") == target:
                cmdline = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
                found.append(f"{entry.name}: {cmdline.strip()}")
        except OSError:
            continue
    return found


def wait_gone(directory: Path, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while (left := processes_in(directory)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def interrupt(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
