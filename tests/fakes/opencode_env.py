"""Run the real ``opencode serve`` and ``claude`` binaries hermetically against the fake model.

Hermetic means: the child sees none of the developer's environment (no API
keys, proxies, config or state); every directory it writes to is under a
test's tmp dir; the only provider it knows is the scripted model server on
loopback; and the switches that stop background network traffic are on.

Binaries are found by :func:`find_binary`: ``COUNCIL_TEST_<NAME>_BIN``, else
``<repo>/node_modules/.bin/<name>`` (what ``npm install`` puts there from
package.json), else ``PATH``. A missing binary is an error, never a skip.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"listening on (https?://\S+)")

#: Tools a council reviewer may use; everything else is denied, nothing is left at "ask"
#: (an "ask" blocks a headless session forever).
READ_ONLY_PERMISSION: dict[str, Any] = {
    "read": "allow",
    "grep": "allow",
    "glob": "allow",
    "list": "allow",
    "edit": "deny",
    "write": "deny",
    "bash": "deny",
    "webfetch": "deny",
    "websearch": "deny",
    "task": "deny",
    "question": "deny",
    "todowrite": "deny",
    "skill": "deny",
    "doom_loop": "deny",
    "external_directory": "deny",
}


class MissingBinaryError(RuntimeError):
    """An agent runtime binary the tests need is not installed."""


def find_binary(name: str) -> str:
    """Path of ``opencode`` / ``claude``: env override, then node_modules, then PATH."""
    env_var = f"COUNCIL_TEST_{name.upper()}_BIN"
    override = os.environ.get(env_var)
    if override:
        if not os.access(override, os.X_OK):
            raise MissingBinaryError(f"{env_var}={override} is not an executable file")
        return override
    local = REPO_ROOT / "node_modules" / ".bin" / name
    if os.access(local, os.X_OK):
        return str(local)
    found = shutil.which(name)
    if found:
        return found
    raise MissingBinaryError(
        f"the {name!r} binary is missing: run `npm install` in {REPO_ROOT} (installs the pinned "
        f"versions from package.json into node_modules/.bin), or set {env_var}"
    )


def _base_env(home: Path) -> dict[str, str]:
    """A fresh environment: nothing inherited but PATH (with ``rg``) and a UTF-8 locale."""
    rg = shutil.which("rg")
    if rg is None:
        raise MissingBinaryError(
            "ripgrep (`rg`) is not on PATH; OpenCode's grep/glob tools need it and would try "
            "to download it from GitHub"
        )
    path_dirs = os.environ.get("PATH", "").split(os.pathsep)
    if os.path.dirname(rg) not in path_dirs:
        path_dirs.insert(0, os.path.dirname(rg))
    tmpdir = home / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": os.pathsep.join(path_dirs),
        "HOME": str(home),
        "TMPDIR": str(tmpdir),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def opencode_env(tmp: Path, config: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Environment for ``opencode serve`` with all state under ``tmp``.

    ``config`` becomes ``OPENCODE_CONFIG_CONTENT`` (inline config, highest
    precedence below managed config).

    ``npm_config_offline=true`` matters: on the first prompt OpenCode 1.18.33
    resolves ``@opencode-ai/plugin`` (and web-tree-sitter, @opentui/core)
    against registry.npmjs.org for its config dir, whatever the
    ``OPENCODE_DISABLE_*`` switches say. Offline, npm answers from its (empty)
    cache at once and the session runs normally.
    """
    home = Path(tmp) / "home"
    env = _base_env(home)
    for var, sub in (
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_STATE_HOME", "state"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[var] = str(home / sub)
    env.update(
        {
            "OPENCODE_DISABLE_MODELS_FETCH": "1",
            "OPENCODE_DISABLE_AUTOUPDATE": "1",
            "OPENCODE_DISABLE_SHARE": "1",
            "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
            "OPENCODE_DISABLE_CLAUDE_CODE": "1",
            "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
            "npm_config_offline": "true",
        }
    )
    if config is not None:
        env["OPENCODE_CONFIG_CONTENT"] = json.dumps(config)
    return env


def fake_provider_config(
    base_url: str, *, provider: str = "fake", model: str = "m"
) -> dict[str, Any]:
    """OpenCode config with one OpenAI-compatible provider served by the fake at ``base_url``.

    ``tool_call`` and ``temperature`` are declared so tools and agent
    temperatures reach the model; ``cost`` makes OpenCode report a non-zero
    cost (USD per million tokens).
    """
    return {
        "provider": {
            provider: {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Fake",
                "options": {"baseURL": base_url.rstrip("/") + "/v1", "apiKey": "x"},
                "models": {
                    model: {
                        "name": model,
                        "tool_call": True,
                        "temperature": True,
                        "limit": {"context": 100000, "output": 8000},
                        "cost": {"input": 3, "output": 15},
                    }
                },
            }
        },
        "model": f"{provider}/{model}",
        "small_model": f"{provider}/{model}",
        "autoupdate": False,
        "share": "disabled",
    }


def reviewer_agent(prompt: str, *, description: str = "Code reviewer") -> dict[str, Any]:
    """An OpenCode agent definition with council's read-only permissions."""
    return {
        "description": description,
        "mode": "primary",
        "prompt": prompt,
        "permission": dict(READ_ONLY_PERMISSION),
    }


@dataclass
class OpencodeServer:
    """A running ``opencode serve``; ``url`` is its base URL, output goes to ``log_path``."""

    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(grace)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # stragglers in the group
        self.process.wait()


@contextlib.contextmanager
def run_opencode_server(
    binary: str, *, cwd: Path, env: Mapping[str, str], log_path: Path, timeout: float = 30.0
) -> Iterator[OpencodeServer]:
    """Start ``opencode serve --port 0 --hostname 127.0.0.1``; yield once it listens.

    Output goes to a file rather than a pipe, so nothing has to drain it and
    no pipe outlives the test.
    """
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [binary, "serve", "--port", "0", "--hostname", "127.0.0.1", "--print-logs"],
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = OpencodeServer(process, "", log_path)
    try:
        deadline = time.monotonic() + timeout
        while True:
            found = _LISTENING.search(server.log())
            if found:
                server.url = found.group(1).rstrip("/")
                break
            if process.poll() is not None:
                raise RuntimeError(
                    f"opencode serve exited with {process.returncode}:\n{server.log()[-4000:]}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"opencode serve not ready in {timeout}s:\n{server.log()[-4000:]}"
                )
            time.sleep(0.05)
        yield server
    finally:
        server.stop()


def claude_env(base_url: str, tmp: Path, *, max_retries: int = 1) -> dict[str, str]:
    """Environment for the ``claude`` CLI talking to the fake Anthropic API at ``base_url``.

    ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1`` is the switch that keeps it
    offline: without it the CLI resolves api.anthropic.com and sends
    ``HEAD /api/hello`` to the base URL. ``CLAUDE_CONFIG_DIR`` holds
    ``.claude.json``, transcripts and plugin state; ``TMPDIR`` its sockets.
    ``CLAUDE_CODE_MAX_RETRIES`` bounds its own retry loop (default 10, with
    backoff up to ~40 s, and it retries even 401s).
    """
    home = Path(tmp) / "claude-home"
    env = _base_env(home)
    config_dir = home / ".claude"
    config_dir.mkdir(parents=True, exist_ok=True)
    env.update(
        {
            "ANTHROPIC_BASE_URL": base_url.rstrip("/"),
            "ANTHROPIC_API_KEY": "sk-ant-fake-key",
            "CLAUDE_CONFIG_DIR": str(config_dir),
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
            "DISABLE_TELEMETRY": "1",
            "DISABLE_ERROR_REPORTING": "1",
            "DISABLE_COST_WARNINGS": "1",
            "CLAUDE_CODE_MAX_RETRIES": str(max_retries),
        }
    )
    return env


def claude_command(
    binary: str,
    prompt: str,
    *,
    model: str,
    system_prompt: str,
    tools: Sequence[str] = ("Read", "Grep", "Glob"),
    json_schema: Mapping[str, Any] | None = None,
) -> list[str]:
    """argv for one headless ``claude -p`` run emitting stream-json.

    ``--tools`` limits the tools *offered* to the model; ``--allowedTools``
    only pre-approves them (without ``--tools`` the model is still offered
    Bash, Edit, Write, Agent, ...). ``--setting-sources ""`` ignores the
    reviewed repo's ``.claude/settings*.json``.
    """
    argv = [
        binary,
        "-p",
        prompt,
        "--output-format",
        "stream-json",
        "--verbose",
        "--model",
        model,
        "--system-prompt",
        system_prompt,
        "--tools",
        ",".join(tools),
        "--allowedTools",
        ",".join(tools),
        "--setting-sources",
        "",
        "--no-session-persistence",
    ]
    if json_schema is not None:
        argv += ["--json-schema", json.dumps(json_schema)]
    return argv


def run_claude(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float = 45.0
) -> subprocess.CompletedProcess[str]:
    """Run one ``claude -p`` to the end; on timeout kill its whole process group."""
    with subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            stdout, stderr = process.communicate()
            raise TimeoutError(f"claude did not finish in {timeout}s:\n{stderr[-4000:]}") from None
    return subprocess.CompletedProcess(list(argv), process.returncode, stdout, stderr)
