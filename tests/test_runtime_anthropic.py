"""The anthropic runtime (Messages API over httpx) against the scripted Anthropic fake."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from coordinator.agents import AgentSpec
from coordinator.answers import ANSWER_SCHEMA, parse_answer
from coordinator.errors import RetryableSessionError, RuntimeUnavailable, SessionError
from coordinator.events import Event, SessionStarted, TextDelta, UsageUpdated
from coordinator.runtimes.anthropic import (
    ANSWER_TOOL,
    AnthropicRuntime,
    TokenCounts,
    estimate_cost,
)
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.runtimes.http_api import retry_after
from tests.fakes.model_server import Reply, Rule, ScriptedModelServer

MARK = "ANTHROPIC-REVIEWER-91c2"
FINDINGS = {
    "findings": [
        {
            "path": "app.py",
            "line": 2,
            "severity": "high",
            "category": "correctness",
            "title": "Off-by-one",
            "body": "items[len(items)] raises IndexError.",
            "confidence": 0.9,
        }
    ]
}

pytestmark = pytest.mark.timeout(30)


def spec(
    model: str | None = "anthropic/claude-sonnet-4-5", temperature: float | None = 0.1
) -> SessionSpec:
    agent = AgentSpec(
        name="correctness",
        description="finds bugs",
        prompt=f"{MARK} You review code.",
        source="test",
        temperature=temperature,
    )
    return SessionSpec(
        "correctness#1", "review", agent, model, Path("."), ANSWER_SCHEMA, "Read the diff so."
    )


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(structured_tool=ANSWER_TOOL) as srv:
        yield srv


def env_for(base_url: str, **extra: str) -> dict[str, str]:
    return {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": "sk-ant-test", **extra}


def converse(
    runtime: AnthropicRuntime, session_spec: SessionSpec, *prompts: str
) -> tuple[list[TurnResult], list[Event]]:
    events: list[Event] = []

    async def main() -> list[TurnResult]:
        with anyio.fail_after(20):
            async with runtime, runtime.open_session(session_spec, events.append) as session:
                return [await session.prompt(p) for p in prompts]

    return anyio.run(main), events


def messages_calls(server: ScriptedModelServer) -> list[Any]:
    return [r for r in server.requests if r.path == "/v1/messages"]


def test_streams_text_and_returns_the_forced_tool_input(server: ScriptedModelServer) -> None:
    server.set_rules(
        [Rule(MARK, Reply.tool_call(ANSWER_TOOL, FINDINGS, text="Checked the loop. "))]
    )
    (turn,), events = converse(AnthropicRuntime(env=env_for(server.base_url)), spec(), "Review")

    assert turn.structured == FINDINGS
    assert parse_answer(turn.text, turn.structured).findings[0].title == "Off-by-one"
    assert turn.text == "Checked the loop. "
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Checked the loop. "
    assert len([e for e in events if isinstance(e, TextDelta)]) > 1  # really streamed
    assert [e.session_id for e in events if isinstance(e, SessionStarted)] == [turn.session_id]
    assert (turn.usage.tokens_in, turn.usage.tokens_out) == (100, 20)
    assert turn.usage.cost_usd == pytest.approx((100 * 3 + 20 * 15) / 1e6)
    assert any(isinstance(e, UsageUpdated) for e in events)

    (call,) = messages_calls(server)
    assert call.headers["anthropic-version"] == "2023-06-01"
    assert call.body["stream"] is True
    assert call.body["model"] == "claude-sonnet-4-5"
    # The reviewer prompt and the shared instructions, one cache breakpoint after them.
    assert call.body["system"] == [
        {
            "type": "text",
            "text": f"{MARK} You review code.\n\nRead the diff so.",
            "cache_control": {"type": "ephemeral"},
        }
    ]
    assert call.body["temperature"] == 0.1
    assert call.tool_names == [ANSWER_TOOL]
    assert call.body["tools"][0]["input_schema"] == ANSWER_SCHEMA
    assert call.body["tool_choice"] == {"type": "tool", "name": ANSWER_TOOL}


def test_text_answer_is_the_fallback(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.text("```json\n" + json.dumps(FINDINGS) + "\n```"))])
    (turn,), _ = converse(AnthropicRuntime(env=env_for(server.base_url)), spec(), "Review")
    assert turn.structured is None
    assert parse_answer(turn.text, turn.structured).findings[0].line == 2


def test_repair_turn_continues_the_conversation(server: ScriptedModelServer) -> None:
    server.set_rules(
        [
            Rule(
                MARK,
                [
                    Reply.tool_call(
                        ANSWER_TOOL, {"findings": [{"path": "app.py"}]}, id="toolu_first"
                    ),
                    Reply.structured(FINDINGS),
                ],
            )
        ]
    )
    (first, repair), _ = converse(
        AnthropicRuntime(env=env_for(server.base_url)),
        spec(),
        "FIRST-TURN review",
        "REPAIR-TURN: fix the schema errors",
    )
    assert first.structured == {"findings": [{"path": "app.py"}]}
    assert repair.structured == FINDINGS
    assert repair.session_id == first.session_id
    assert (repair.usage.tokens_in, repair.usage.tokens_out) == (200, 40)  # running totals

    messages = messages_calls(server)[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"][-1]["text"] == "FIRST-TURN review"
    assert messages[1]["content"] == [
        {
            "type": "tool_use",
            "id": "toolu_first",
            "name": ANSWER_TOOL,
            "input": {"findings": [{"path": "app.py"}]},
        }
    ]
    result, text = messages[2]["content"]
    assert result["type"] == "tool_result"
    assert result["tool_use_id"] == "toolu_first"
    assert text == {"type": "text", "text": "REPAIR-TURN: fix the schema errors"}


def test_rate_limit_is_retryable_with_retry_after(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.error(429, retry_after=7))])
    with pytest.raises(RetryableSessionError, match="HTTP 429") as caught:
        converse(AnthropicRuntime(env=env_for(server.base_url)), spec(), "Review")
    assert caught.value.retry_after == 7


@pytest.mark.parametrize("status", [500, 529])
def test_server_errors_are_retryable(server: ScriptedModelServer, status: int) -> None:
    server.set_rules([Rule(MARK, Reply.error(status))])
    with pytest.raises(RetryableSessionError, match=f"HTTP {status}") as caught:
        converse(AnthropicRuntime(env=env_for(server.base_url)), spec(), "Review")
    assert caught.value.retry_after is None


def test_auth_error_is_final_with_the_api_message(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.error(401))])
    with pytest.raises(SessionError, match="authentication_error: fake 401 error") as caught:
        converse(AnthropicRuntime(env=env_for(server.base_url)), spec(), "Review")
    assert not isinstance(caught.value, RetryableSessionError)


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RetryableSessionError, match="request failed"):
        converse(AnthropicRuntime(env=env_for(f"http://127.0.0.1:{port}")), spec(), "Review")


def test_dropped_stream_is_retryable(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.drop(3))])
    with pytest.raises(RetryableSessionError):
        converse(AnthropicRuntime(env=env_for(server.base_url)), spec(), "Review")


def test_model_comes_from_env_or_the_error_says_pass_model(server: ScriptedModelServer) -> None:
    env = env_for(server.base_url, ANTHROPIC_MODEL="claude-haiku-4-5")
    runtime = AnthropicRuntime(env=env)
    assert runtime.default_model() == "claude-haiku-4-5"
    (turn,), _ = converse(runtime, spec(model=None), "Review")
    assert messages_calls(server)[-1].model == "claude-haiku-4-5"
    assert turn.model == "claude-haiku-4-5"
    with pytest.raises(SessionError, match="--model"):
        converse(AnthropicRuntime(env=env_for(server.base_url)), spec(model=None), "Review")


def test_missing_key_is_a_fixable_error() -> None:
    async def enter() -> None:
        async with AnthropicRuntime(env={}):
            pass

    with pytest.raises(RuntimeUnavailable, match="ANTHROPIC_API_KEY"):
        anyio.run(enter)


def test_error_event_in_the_stream_is_mapped() -> None:
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    body = (
        'event: message_start\ndata: {"type": "message_start", "message": {"usage": {}}}\n\n'
        f"event: error\ndata: {json.dumps(overloaded)}\n\n"
    )
    transport = httpx.MockTransport(
        lambda request: httpx.Response(
            200, text=body, headers={"content-type": "text/event-stream"}
        )
    )
    runtime = AnthropicRuntime(env=env_for("http://127.0.0.1:9"), transport=transport)
    with pytest.raises(RetryableSessionError, match="overloaded_error: Overloaded"):
        converse(runtime, spec(), "Review")


def test_retry_after_forms() -> None:
    assert retry_after(httpx.Headers({"retry-after": "12"})) == 12
    assert retry_after(httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 < (retry_after(httpx.Headers({"retry-after": later})) or 0) <= 30
    assert retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert retry_after(httpx.Headers()) is None


def test_cost_estimate_knows_dated_ids_and_cache_pricing() -> None:
    tokens = TokenCounts(input=1_000_000, cache_write=0, cache_read=1_000_000, output=0)
    assert estimate_cost("claude-sonnet-4-5-20250929", tokens) == pytest.approx(3.0 + 0.3)
    assert estimate_cost("claude-opus-4-1", TokenCounts(output=1_000_000)) == 75.0
    assert estimate_cost("some-other-model", tokens) == 0.0
