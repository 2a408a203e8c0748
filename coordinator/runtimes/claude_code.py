"""The Claude Code runtime: one headless ``claude -p`` process per prompt turn.

Each turn runs ``claude -p --output-format stream-json --verbose`` in its own
process group with cwd = the reviewed repository, the agent prompt and the
review instructions as ``--system-prompt`` (~12 KB, plus a file list capped at
16 KB: far below Linux's 128 KiB limit on one argument) and the prompt text on
stdin (no length limit). The repair turn resumes the same conversation with
``--resume <session_id>``.
Model credentials and endpoints (``ANTHROPIC_API_KEY``, ``ANTHROPIC_BASE_URL``,
...) are whatever the environment gives the CLI; council passes it through.

Behaviour of Claude Code 2.1.332 this module relies on (checked against the
real binary):

- ``--tools`` decides what the model is offered, ``--allowedTools`` only
  pre-approves; unknown names in ``--tools`` are dropped silently (there is no
  ``LS`` tool, so OpenCode's ``list`` has no counterpart; Glob covers it).
- In ``-p`` mode anything that would ask for permission is denied, and deny
  rules beat allow rules: ``Bash(git diff:*)`` alone would still let
  ``git diff --output=FILE`` write, so the agent's bash deny patterns are
  passed as ``--disallowedTools`` too.
- ``--setting-sources ""`` ignores user/project/local settings, so a reviewed
  repository's ``.claude/settings*.json`` cannot widen permissions;
  ``--strict-mcp-config`` does the same for its ``.mcp.json``. With these and
  ``--system-prompt``, the repository's CLAUDE.md is not loaded either.
- ``--resume`` needs the CLI's own transcript, so sessions are persisted
  (``--no-session-persistence`` would break the repair turn): reviews show up
  in the user's Claude Code history under ``CLAUDE_CONFIG_DIR``.
- API failures end with a ``result`` line whose ``is_error`` is true,
  ``api_error_status`` the HTTP status (null for connection errors) and
  ``result`` the readable message; ``system``/``api_retry`` lines report the
  CLI's own retries (bounded by ``CLAUDE_CODE_MAX_RETRIES``).
- ``usage`` in a ``result`` covers that process only, while ``total_cost_usd``
  is the running total of the resumed conversation.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from subprocess import PIPE
from types import TracebackType
from typing import Any, Self

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream, Process

from coordinator.agents import AgentSpec
from coordinator.errors import RetryableSessionError, RuntimeUnavailable, SessionError
from coordinator.events import (
    EventSink,
    SessionRetrying,
    SessionStarted,
    TextDelta,
    ToolCalled,
    Usage,
    UsageUpdated,
)
from coordinator.runtimes.base import SessionSpec, ToolCall, TurnResult

INSTALL_HINT = "npm install -g @anthropic-ai/claude-code"

# OpenCode permission names -> Claude Code tools offered when the permission is "allow".
_TOOL_FOR_PERMISSION = {
    "read": "Read",
    "grep": "Grep",
    "glob": "Glob",
    "webfetch": "WebFetch",
    "websearch": "WebSearch",
}
# Tool input keys that name what a call is about, most telling first.
_TARGET_KEYS = ("file_path", "pattern", "path", "command", "url", "query")
# The CLI's error kinds (assistant ``error`` field) worth another attempt.
_RETRYABLE_KINDS = frozenset({"rate_limit", "server_error", "overloaded"})
_MAX_LINE = 64 * 1024 * 1024  # a stream-json line carries whole tool results


@dataclass(frozen=True)
class ToolFlags:
    """What the CLI offers the model (``--tools``), pre-approves and refuses."""

    offered: tuple[str, ...]
    allowed: tuple[str, ...]
    denied: tuple[str, ...]


def _bash_rule(pattern: str) -> str:
    # OpenCode's "git diff *" is Claude Code's prefix rule "git diff:*".
    if pattern.endswith(" *") and "*" not in pattern[:-2]:
        return f"Bash({pattern[:-2]}:*)"
    return f"Bash({pattern})"


def _names_a_command(pattern: str) -> bool:
    """A pattern that starts with a literal command word; '*' or '* foo' would allow any."""
    first = pattern.split(" ", 1)[0]
    return bool(first) and not any(c in first for c in "*?[")


def claude_tool_flags(agent: AgentSpec) -> ToolFlags:
    """Map an agent's OpenCode-style permissions onto Claude Code tool flags.

    Only read-only tools and explicitly allowed bash command patterns are
    offered; Bash is never offered without such a pattern, and never
    pre-approved as a whole. Deny patterns of offered tools become deny rules.
    """
    offered: list[str] = []
    allowed: list[str] = []
    denied: list[str] = []
    allowed_permissions = set(agent.allowed_tools())
    for permission, tool in _TOOL_FOR_PERMISSION.items():
        if permission not in allowed_permissions:
            continue
        offered.append(tool)
        allowed.append(tool)
        rule = agent.permission.get(permission)
        if isinstance(rule, Mapping):
            denied += [f"{tool}({p})" for p, a in rule.items() if p != "*" and a != "allow"]
    bash = agent.permission.get("bash")
    if isinstance(bash, Mapping):
        commands = [str(p) for p, a in bash.items() if a == "allow" and _names_a_command(str(p))]
        if commands:
            offered.append("Bash")
            allowed += [_bash_rule(p) for p in commands]
            denied += [f"Bash({p})" for p, a in bash.items() if p != "*" and a != "allow"]
    return ToolFlags(tuple(offered), tuple(allowed), tuple(denied))


def claude_model(model: str | None) -> str | None:
    """council names models ``provider/model``; claude takes bare names (or its aliases).

    Only an ``anthropic/`` prefix is removed: other slashes may belong to the
    model id itself (e.g. Bedrock inference-profile ARNs).
    """
    if model and model.startswith("anthropic/"):
        return model.removeprefix("anthropic/")
    return model or None


def find_claude(binary: str | None, env: Mapping[str, str] | None) -> str:
    search_path = env.get("PATH") if env is not None else None
    path = shutil.which(binary or "claude", path=search_path)
    if path is None:
        raise RuntimeUnavailable(
            f"'{binary or 'claude'}' was not found on PATH. Install Claude Code with "
            f"'{INSTALL_HINT}', set COUNCIL_CLAUDE_BIN to its path, or choose another --runtime."
        )
    return path


def claude_argv(binary: str, spec: SessionSpec, model: str | None, resume: str | None) -> list[str]:
    flags = claude_tool_flags(spec.agent)
    argv = [
        binary,
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--system-prompt",
        spec.system_prompt,
        "--tools",
        ",".join(flags.offered),
        "--setting-sources",
        "",
        "--strict-mcp-config",
    ]
    if flags.allowed:
        argv += ["--allowedTools", ",".join(flags.allowed)]
    if flags.denied:
        argv += ["--disallowedTools", ",".join(flags.denied)]
    if model:
        argv += ["--model", model]
    if resume:
        argv += ["--resume", resume]
    return argv


class ClaudeCodeRuntime:
    name = "claude-code"

    def __init__(
        self,
        *,
        binary: str | None = None,
        env: Mapping[str, str] | None = None,
        kill_grace: float = 5.0,
    ) -> None:
        self._binary = binary
        child_env = dict(os.environ if env is None else env)
        # council retries whole sessions itself; the CLI's own default of 10 retries with
        # long backoff would stack under ours. A user's explicit setting still wins.
        child_env.setdefault("CLAUDE_CODE_MAX_RETRIES", "2")
        self._env: dict[str, str] | None = child_env
        self._kill_grace = kill_grace
        self._path: str | None = None

    async def __aenter__(self) -> Self:
        self._path = find_claude(self._binary, self._env)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._path = None

    def default_model(self) -> str | None:
        env = self._env if self._env is not None else os.environ
        return env.get("ANTHROPIC_MODEL") or None

    @asynccontextmanager
    async def open_session(
        self, spec: SessionSpec, emit: EventSink
    ) -> AsyncIterator[ClaudeCodeSession]:
        if self._path is None:
            raise RuntimeError("ClaudeCodeRuntime used outside 'async with'")
        session = ClaudeCodeSession(
            binary=self._path,
            spec=spec,
            emit=emit,
            model=claude_model(spec.model or spec.agent.model),
            env=self._env,
            kill_grace=self._kill_grace,
        )
        try:
            yield session
        finally:
            await session.close()


@dataclass
class _Turn:
    """What one ``claude`` process reported."""

    result: dict[str, Any] | None = None
    api_error: dict[str, Any] | None = None  # the last assistant line flagged is_api_error_message
    junk: deque[str] = field(default_factory=lambda: deque(maxlen=5))


class ClaudeCodeSession:
    def __init__(
        self,
        *,
        binary: str,
        spec: SessionSpec,
        emit: EventSink,
        model: str | None,
        env: Mapping[str, str] | None,
        kill_grace: float,
    ) -> None:
        self._binary = binary
        self._spec = spec
        self._emit = emit
        self._model = model
        self._env = env
        self._grace = kill_grace
        self.session_id = ""
        self._answered_by: str | None = None
        self._process: Process | None = None
        self._tool_calls: dict[str, ToolCall] = {}
        self._tokens_in = 0
        self._tokens_out = 0
        self._cost = 0.0

    async def close(self) -> None:
        """Kill a turn still running when the session context exits early."""
        if self._process is not None:
            await _stop_group(self._process, self._grace)

    async def prompt(self, text: str) -> TurnResult:
        argv = claude_argv(self._binary, self._spec, self._model, self.session_id or None)
        try:
            process = await anyio.open_process(
                argv,
                stdin=PIPE,
                stdout=PIPE,
                stderr=PIPE,
                cwd=self._spec.workdir,
                env=self._env,
                start_new_session=True,  # so one killpg reaches every tool subprocess too
            )
        except OSError as exc:
            raise SessionError(f"cannot start {self._binary}: {exc}") from exc
        self._process = process
        turn = _Turn()
        stderr_tail: deque[str] = deque(maxlen=20)
        stdin, stdout, stderr = process.stdin, process.stdout, process.stderr
        try:
            if stdin is None or stdout is None or stderr is None:
                raise RuntimeError("claude was started without pipes")
            stderr_done = anyio.Event()
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(_feed, stdin, text)
                tasks.start_soon(_drain, stderr, stderr_tail, stderr_done)
                lines = _LineReader(stdout)
                while turn.result is None and (line := await lines.next_line()) is not None:
                    self._on_line(line, turn)
                # The result line is the last one; don't wait for EOF a straggler may hold.
                with anyio.move_on_after(self._grace):
                    await process.wait()
                    await stderr_done.wait()
                tasks.cancel_scope.cancel()
        finally:
            self._process = None
            await _stop_group(process, self._grace)
        return self._finish(turn, process.returncode, stderr_tail)

    # ---- stream-json lines

    def _on_line(self, raw: bytes, turn: _Turn) -> None:
        try:
            line = json.loads(raw)
        except ValueError:
            if raw.strip():
                turn.junk.append(raw.decode("utf-8", "replace")[:300])
            return
        if not isinstance(line, dict):
            return
        kind = line.get("type")
        if kind == "system":
            self._on_system(line)
        elif kind == "assistant":
            if line.get("is_api_error_message") or line.get("error"):
                turn.api_error = line  # its text is the CLI's error message, not an answer
            else:
                self._on_assistant(line.get("message") or {})
        elif kind == "user":
            self._on_tool_results(line.get("message") or {})
        elif kind == "result":
            turn.result = line

    def _on_system(self, line: Mapping[str, Any]) -> None:
        key, agent = self._spec.key, self._spec.agent.name
        if line.get("subtype") == "init":
            self._answered_by = str(line.get("model") or "") or self._answered_by
            session_id = str(line.get("session_id") or "")
            if session_id and session_id != self.session_id:
                self.session_id = session_id
                self._emit(SessionStarted(key, agent, session_id))
        elif line.get("subtype") == "api_retry":
            status = line.get("error_status")
            reason = str(line.get("error") or "API error") + (f" (HTTP {status})" if status else "")
            delay = float(line.get("retry_delay_ms") or 0) / 1000
            self._emit(SessionRetrying(key, agent, int(line.get("attempt") or 0), reason, delay))

    def _on_assistant(self, message: Mapping[str, Any]) -> None:
        key, agent = self._spec.key, self._spec.agent.name
        for block in message.get("content") or []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and block.get("text"):
                self._emit(TextDelta(key, agent, str(block["text"])))
            elif block.get("type") == "tool_use":
                inputs = block.get("input") or {}
                target = next((str(inputs[k]) for k in _TARGET_KEYS if inputs.get(k)), "")
                self._record_tool(
                    str(block.get("id", "")), str(block.get("name", "")), target, "running"
                )

    def _on_tool_results(self, message: Mapping[str, Any]) -> None:
        content = message.get("content")
        for block in content if isinstance(content, list) else []:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                call_id = str(block.get("tool_use_id", ""))
                known = self._tool_calls.get(call_id)
                if known is not None:
                    status = "error" if block.get("is_error") else "completed"
                    self._record_tool(call_id, known.tool, known.target, status)

    def _record_tool(self, call_id: str, tool: str, target: str, status: str) -> None:
        self._tool_calls[call_id] = ToolCall(tool=tool, target=target, status=status)
        self._emit(ToolCalled(self._spec.key, self._spec.agent.name, tool, target, status, call_id))

    # ---- the outcome

    def _finish(self, turn: _Turn, returncode: int | None, stderr_tail: deque[str]) -> TurnResult:
        result = turn.result
        if result is None:
            detail = _api_error_text(turn.api_error) or "\n".join([*stderr_tail, *turn.junk])
            raise SessionError(
                f"claude exited with code {returncode} without a result"
                + (f": {detail}" if detail else "")
            )
        self._add_usage(result)
        if result.get("is_error") or result.get("subtype") != "success":
            message = _result_error_text(result) or _api_error_text(turn.api_error)
            message = f"Claude Code failed: {message or result.get('subtype') or 'unknown error'}"
            if _is_retryable(result, turn.api_error):
                raise RetryableSessionError(message)
            raise SessionError(message)
        return TurnResult(
            text=str(result.get("result") or ""),
            structured=None,  # answers.parse_answer takes the JSON from the text
            usage=self._usage(),
            tool_calls=list(self._tool_calls.values()),
            session_id=self.session_id,
            model=self._answered_by or self._model,
        )

    def _add_usage(self, result: Mapping[str, Any]) -> None:
        usage = result.get("usage") or {}
        self._tokens_in += sum(
            int(usage.get(k) or 0)
            for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
        self._tokens_out += int(usage.get("output_tokens") or 0)
        since_last = result.get("model_usage_since_last_result")
        if isinstance(since_last, dict) and since_last:
            self._cost += sum(float(m.get("costUSD") or 0) for m in since_last.values())
        else:  # total_cost_usd is the conversation's running total
            self._cost = max(self._cost, float(result.get("total_cost_usd") or 0))
        self._emit(UsageUpdated(self._spec.key, self._spec.agent.name, self._usage()))

    def _usage(self) -> Usage:
        return Usage(self._tokens_in, self._tokens_out, self._cost)


def _api_error_text(line: Mapping[str, Any] | None) -> str:
    if not line:
        return ""
    content = (line.get("message") or {}).get("content") or []
    return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict)).strip()


def _result_error_text(result: Mapping[str, Any]) -> str:
    errors = result.get("errors")
    if isinstance(errors, list) and errors:
        return "; ".join(str(e) for e in errors)
    return str(result.get("result") or "").strip()


def _is_retryable(result: Mapping[str, Any], api_error: Mapping[str, Any] | None) -> bool:
    status = result.get("api_error_status")
    if isinstance(status, int) and (status in (408, 409, 429) or status >= 500):
        return True
    # No status: a connection failure or timeout, which the CLI files under server_error.
    return api_error is not None and str(api_error.get("error")) in _RETRYABLE_KINDS


# ---- process plumbing


class _LineReader:
    """Split a byte stream into lines; a class rather than an async generator so that
    stopping early leaves nothing to finalise."""

    def __init__(self, stream: ByteReceiveStream) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._eof = False

    async def next_line(self) -> bytes | None:
        start = 0
        while True:
            end = self._buffer.find(b"\n", start)
            if end != -1:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            if self._eof:
                if not self._buffer:
                    return None
                line = bytes(self._buffer)
                self._buffer.clear()
                return line
            if len(self._buffer) > _MAX_LINE:
                raise SessionError("claude wrote an output line longer than 64 MiB")
            start = len(self._buffer)
            try:
                self._buffer += await self._stream.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                self._eof = True


async def _feed(stdin: ByteSendStream, text: str) -> None:
    try:
        await stdin.send(text.encode("utf-8"))
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass  # claude exited early; its exit code and stderr say why
    finally:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            await stdin.aclose()


async def _drain(stream: ByteReceiveStream, tail: deque[str], done: anyio.Event) -> None:
    lines = _LineReader(stream)
    try:
        while (line := await lines.next_line()) is not None:
            if line.strip():
                tail.append(line.decode("utf-8", "replace")[:500])
    finally:
        done.set()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


async def _stop_group(process: Process, grace: float) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace``; shielded so cancellation
    can't leave a ``claude`` (or a tool it started) running."""
    with anyio.CancelScope(shield=True):
        if process.returncode is None:
            _signal_group(process.pid, signal.SIGTERM)
            with anyio.move_on_after(grace):
                await process.wait()
        _signal_group(process.pid, signal.SIGKILL)  # the leader if it ignored SIGTERM, stragglers
        await process.aclose()
