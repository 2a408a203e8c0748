"""The claude-code runtime driving the REAL ``claude`` CLI against the scripted Anthropic fake."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest

from coordinator.agents import AgentSpec, load_roster
from coordinator.answers import ANSWER_SCHEMA, parse_answer
from coordinator.errors import RetryableSessionError, RuntimeUnavailable, SessionError
from coordinator.events import Event, SessionStarted, TextDelta, ToolCalled, UsageUpdated
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.runtimes.claude_code import ClaudeCodeRuntime, claude_model, claude_tool_flags
from coordinator.runtimes.registry import RUNTIME_FACTORIES, RuntimeContext
from tests.council_run import processes_in
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer, ToolCall
from tests.fakes.opencode_env import READ_ONLY_PERMISSION, claude_env, find_binary
from tests.gitrepo import make_repo

T = TypeVar("T")
MARK = "REVIEWER-PROMPT-7f3a"
APP = "def last_item(items):\n    return items[len(items)]\n"
FINDINGS = {
    "findings": [
        {
            "path": "app.py",
            "line": 2,
            "end_line": None,
            "severity": "high",
            "category": "correctness",
            "title": "Off-by-one",
            "body": "items[len(items)] raises IndexError.",
            "suggestion": None,
            "confidence": 0.9,
            "evidence": "return items[len(items)]",
        }
    ]
}


def agent(permission: dict[str, Any] | None = None) -> AgentSpec:
    return AgentSpec(
        name="correctness",
        description="finds bugs",
        prompt=f"{MARK} You review code.",
        source="test",
        permission=dict(READ_ONLY_PERMISSION) if permission is None else permission,
    )


def spec_for(
    workdir: Path, reviewer: AgentSpec | None = None, model: str | None = None
) -> SessionSpec:
    return SessionSpec(
        key="correctness#1",
        title="review",
        agent=reviewer or agent(),
        model=model or "anthropic/claude-sonnet-4-5",
        workdir=workdir,
        output_schema=ANSWER_SCHEMA,
    )


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    git = make_repo(tmp_path)
    git.write("app.py", APP)
    git.commit("initial")
    return git.root


def runtime(server: ScriptedModelServer, tmp_path: Path) -> ClaudeCodeRuntime:
    env = claude_env(server.base_url, tmp_path, max_retries=0)
    return ClaudeCodeRuntime(binary=find_binary("claude"), env=env, kill_grace=2.0)


def run(
    rt: ClaudeCodeRuntime, spec: SessionSpec, *prompts: str
) -> tuple[list[TurnResult], list[Event]]:
    events: list[Event] = []

    async def main() -> list[TurnResult]:
        with anyio.fail_after(25):
            async with rt, rt.open_session(spec, events.append) as session:
                return [await session.prompt(p) for p in prompts]

    return anyio.run(main), events


def run_async(fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        with anyio.fail_after(25):
            return await fn()

    return anyio.run(main)


def model_requests(server: ScriptedModelServer) -> list[Any]:
    return [r for r in server.requests if r.path == "/v1/messages"]


# ---- pure mapping (no binary)


def test_read_only_agent_gets_read_grep_glob_and_no_bash() -> None:
    flags = claude_tool_flags(agent())
    assert flags.offered == ("Read", "Grep", "Glob")  # "list" has no Claude Code tool
    assert flags.allowed == ("Read", "Grep", "Glob")
    assert flags.denied == ()


def test_builtin_security_agent_maps_git_patterns_and_denials() -> None:
    security = load_roster(None).agents["security"]
    flags = claude_tool_flags(security)
    assert "Bash" in flags.offered
    assert "Bash" not in flags.allowed  # never the whole of Bash
    assert {"Bash(git diff:*)", "Bash(git log:*)", "Bash(git show:*)"} <= set(flags.allowed)
    assert {"Bash(git *--output*)", "Bash(*>*)", "Read(*.env)"} <= set(flags.denied)


def test_plain_bash_allow_is_never_offered() -> None:
    flags = claude_tool_flags(agent({"read": "allow", "bash": "allow"}))
    assert flags.offered == ("Read",)
    flags = claude_tool_flags(agent({"bash": {"*": "allow", "* --version": "allow"}}))
    assert flags.offered == ()


def test_model_prefix_is_stripped() -> None:
    assert claude_model("anthropic/claude-sonnet-4-5") == "claude-sonnet-4-5"
    assert claude_model("sonnet") == "sonnet"
    assert claude_model(None) is None


def test_missing_binary_is_a_fixable_error(tmp_path: Path) -> None:
    from coordinator.config import ReviewSettings

    ctx = RuntimeContext(
        workdir=tmp_path,
        agents=[agent()],
        settings=ReviewSettings(),
        env={"PATH": str(tmp_path), "COUNCIL_CLAUDE_BIN": "claude-not-installed"},
    )
    rt = RUNTIME_FACTORIES["claude-code"](ctx)
    with pytest.raises(RuntimeUnavailable, match="npm install -g @anthropic-ai/claude-code"):
        run_async(rt.__aenter__)


# ---- the real binary


@pytest.mark.claude
@pytest.mark.timeout(30)
def test_read_then_answer(server: ScriptedModelServer, repo: Path, tmp_path: Path) -> None:
    server.set_rules(
        [
            Rule(
                MARK,
                [
                    Reply.tool_call(
                        "Read", {"file_path": str(repo / "app.py")}, text="Let me look."
                    ),
                    Reply.text("```json\n" + json.dumps(FINDINGS) + "\n```"),
                ],
            )
        ]
    )
    (turn,), events = run(runtime(server, tmp_path), spec_for(repo), "Review app.py")

    assert parse_answer(turn.text, turn.structured).findings[0].title == "Off-by-one"
    started = [e for e in events if isinstance(e, SessionStarted)]
    assert [e.session_id for e in started] == [turn.session_id]
    tools = [e for e in events if isinstance(e, ToolCalled)]
    assert [(e.tool, e.status) for e in tools] == [("Read", "running"), ("Read", "completed")]
    assert tools[0].target == str(repo / "app.py")
    assert [(c.tool, c.status) for c in turn.tool_calls] == [("Read", "completed")]
    assert any(isinstance(e, TextDelta) and "Let me look." in e.text for e in events)
    # Two model calls of 100 in / 20 out each, as the fake reports them.
    assert (turn.usage.tokens_in, turn.usage.tokens_out) == (200, 40)
    assert turn.usage.cost_usd > 0
    assert any(isinstance(e, UsageUpdated) for e in events)

    calls = model_requests(server)
    assert len(calls) == 2
    assert sorted(calls[0].tool_names) == ["Glob", "Grep", "Read"]
    assert calls[0].model == "claude-sonnet-4-5"
    assert "return items[len(items)]" in calls[1].tool_results[0]


@pytest.mark.claude
@pytest.mark.timeout(30)
def test_repair_turn_resumes_the_conversation(
    server: ScriptedModelServer, repo: Path, tmp_path: Path
) -> None:
    server.set_rules(
        [Rule(MARK, [Reply.text("I think it is fine."), Reply.text(json.dumps(FINDINGS))])]
    )
    (first, repair), events = run(
        runtime(server, tmp_path),
        spec_for(repo),
        "FIRST-TURN review app.py",
        "REPAIR-TURN: JSON please",
    )

    assert first.text == "I think it is fine."
    assert parse_answer(repair.text).findings[0].line == 2
    assert repair.session_id == first.session_id
    assert len([e for e in events if isinstance(e, SessionStarted)]) == 1
    last = model_requests(server)[-1]
    assert "FIRST-TURN" in last.text
    assert "I think it is fine." in last.text
    assert "REPAIR-TURN" in last.text
    assert (repair.usage.tokens_in, repair.usage.tokens_out) == (200, 40)  # running totals
    assert repair.usage.cost_usd > first.usage.cost_usd > 0


@pytest.mark.claude
@pytest.mark.timeout(30)
@pytest.mark.parametrize("status", [400, 401])
def test_api_error_is_a_readable_session_error(
    server: ScriptedModelServer, repo: Path, tmp_path: Path, status: int
) -> None:
    server.set_rules([Rule(None, Reply.error(status))])
    with pytest.raises(SessionError, match=f"{status} fake {status} error") as caught:
        run(runtime(server, tmp_path), spec_for(repo), "Review")
    assert not isinstance(caught.value, RetryableSessionError)


@pytest.mark.claude
@pytest.mark.timeout(30)
@pytest.mark.parametrize("status", [429, 529])
def test_overload_is_retryable(
    server: ScriptedModelServer, repo: Path, tmp_path: Path, status: int
) -> None:
    server.set_rules([Rule(None, Reply.error(status))])
    with pytest.raises(RetryableSessionError, match=str(status)):
        run(runtime(server, tmp_path), spec_for(repo), "Review")


@pytest.mark.claude
@pytest.mark.timeout(30)
def test_git_patterns_run_and_writes_are_refused(
    server: ScriptedModelServer, repo: Path, tmp_path: Path
) -> None:
    security = load_roster(None).agents["security"]
    reviewer = AgentSpec(
        name="security",
        description="",
        prompt=f"{MARK} security",
        source="test",
        permission=security.permission,
    )
    commands = ["git log --oneline", "git diff --output=leak.txt HEAD", "rm app.py"]
    server.set_rules(
        [
            Rule(
                MARK,
                [
                    Reply.tool_calls([ToolCall("Bash", {"command": c}) for c in commands]),
                    Reply.text('{"findings": []}'),
                ],
            )
        ]
    )
    (turn,), _ = run(runtime(server, tmp_path), spec_for(repo, reviewer), "Review")

    assert [c.status for c in turn.tool_calls] == ["completed", "error", "error"]
    assert (repo / "app.py").exists()
    assert not (repo / "leak.txt").exists()
    assert "initial" in model_requests(server)[-1].tool_results[0]


@pytest.mark.claude
@pytest.mark.timeout(30)
def test_cancellation_kills_the_process_group(
    server: ScriptedModelServer, repo: Path, tmp_path: Path
) -> None:
    server.set_rules([Rule(MARK, Reply.stall(60))])
    rt = runtime(server, tmp_path)
    events: list[Event] = []
    seen_alive: list[str] = []

    async def main() -> None:
        with anyio.fail_after(25):
            async with (
                rt,
                rt.open_session(spec_for(repo), events.append) as session,
                anyio.create_task_group() as tg,
            ):
                tg.start_soon(session.prompt, "Review")
                # The fake runs in a thread and offers nothing to await: poll until claude
                # is waiting on the stalled reply.
                while not model_requests(server):  # noqa: ASYNC110
                    await anyio.sleep(0.05)
                seen_alive.extend(processes_in(repo))
                tg.cancel_scope.cancel()

    anyio.run(main)
    assert seen_alive, "claude should have been running in the repo before the cancel"
    assert processes_in(repo) == []
