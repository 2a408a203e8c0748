"""The openai runtime (chat completions over httpx) against the scripted OpenAI fake."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from coordinator.agents import AgentSpec
from coordinator.answers import ANSWER_SCHEMA, parse_answer
from coordinator.errors import RetryableSessionError, RuntimeUnavailable, SessionError
from coordinator.events import Event, SessionStarted, TextDelta, UsageUpdated
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.runtimes.openai import OpenAIRuntime
from tests.fakes.model_server import RecordedRequest, Reply, Rule, ScriptedModelServer

MARK = "OPENAI-REVIEWER-5d0e"
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


def spec(model: str | None = "openai/gpt-test", key: str = "correctness#1") -> SessionSpec:
    agent = AgentSpec(
        name="correctness",
        description="finds bugs",
        prompt=f"{MARK} You review code.",
        source="test",
        temperature=0.2,
    )
    return SessionSpec(key, "review", agent, model, Path("."), ANSWER_SCHEMA, "Read the diff so.")


@pytest.fixture
def server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer() as srv:
        yield srv


def runtime_for(server: ScriptedModelServer, **extra: str) -> OpenAIRuntime:
    return OpenAIRuntime(env={"OPENAI_BASE_URL": server.openai_base_url, **extra})


def converse(
    runtime: OpenAIRuntime, *sessions: tuple[SessionSpec, list[str]]
) -> tuple[list[list[TurnResult]], list[Event]]:
    """Run each (spec, prompts) as one session, one after the other, on one runtime."""
    events: list[Event] = []

    async def main() -> list[list[TurnResult]]:
        results = []
        with anyio.fail_after(20):
            async with runtime:
                for session_spec, prompts in sessions:
                    async with runtime.open_session(session_spec, events.append) as session:
                        results.append([await session.prompt(p) for p in prompts])
        return results

    return anyio.run(main), events


def completions(server: ScriptedModelServer) -> list[RecordedRequest]:
    return [r for r in server.requests if r.path == "/v1/chat/completions"]


def test_streams_text_and_parses_the_schema_answer(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.structured(FINDINGS, chunks=4))])
    [[turn]], events = converse(runtime_for(server, OPENAI_API_KEY="sk-test"), (spec(), ["Review"]))

    assert turn.structured == FINDINGS
    assert parse_answer(turn.text, turn.structured).findings[0].title == "Off-by-one"
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 4
    assert "".join(deltas) == json.dumps(FINDINGS)
    assert [e.session_id for e in events if isinstance(e, SessionStarted)] == [turn.session_id]
    assert (turn.usage.tokens_in, turn.usage.tokens_out, turn.usage.cost_usd) == (100, 20, 0.0)
    assert any(isinstance(e, UsageUpdated) for e in events)

    (call,) = completions(server)
    assert call.body["model"] == "gpt-test"
    assert call.body["stream"] is True
    assert call.body["stream_options"] == {"include_usage": True}
    assert call.body["temperature"] == 0.2
    assert call.body["messages"][0] == {
        "role": "system",
        "content": f"{MARK} You review code.\n\nRead the diff so.",
    }
    assert call.body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "review", "schema": ANSWER_SCHEMA, "strict": False},
    }


def test_repair_turn_keeps_the_history(server: ScriptedModelServer) -> None:
    server.set_rules(
        [Rule(MARK, [Reply.text("Looks fine to me."), Reply.text(json.dumps(FINDINGS))])]
    )
    [[first, repair]], _ = converse(
        runtime_for(server), (spec(), ["FIRST-TURN review", "REPAIR-TURN: JSON only"])
    )
    assert first.structured is None  # the server answered prose despite response_format
    assert repair.structured == FINDINGS
    assert repair.session_id == first.session_id
    assert (repair.usage.tokens_in, repair.usage.tokens_out) == (200, 40)

    messages = completions(server)[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("user", "FIRST-TURN review"),
        ("assistant", "Looks fine to me."),
        ("user", "REPAIR-TURN: JSON only"),
    ]


def test_rate_limit_is_retryable_with_retry_after(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.error(429, retry_after=7))])
    with pytest.raises(RetryableSessionError, match="HTTP 429") as caught:
        converse(runtime_for(server), (spec(), ["Review"]))
    assert caught.value.retry_after == 7


def test_server_error_is_retryable(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.error(500))])
    with pytest.raises(RetryableSessionError, match="HTTP 500: fake 500 error"):
        converse(runtime_for(server), (spec(), ["Review"]))


def test_auth_error_is_final(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.error(401))])
    with pytest.raises(SessionError, match="HTTP 401: fake 401 error") as caught:
        converse(runtime_for(server), (spec(), ["Review"]))
    assert not isinstance(caught.value, RetryableSessionError)


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runtime = OpenAIRuntime(env={"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    with pytest.raises(RetryableSessionError, match="request failed"):
        converse(runtime, (spec(), ["Review"]))


def test_dropped_stream_is_retryable(server: ScriptedModelServer) -> None:
    server.set_rules([Rule(MARK, Reply.drop(2))])
    with pytest.raises(RetryableSessionError):
        converse(runtime_for(server), (spec(), ["Review"]))


def test_rejected_response_format_falls_back_once_per_runtime(server: ScriptedModelServer) -> None:
    def asks_schema(request: RecordedRequest) -> bool:
        return "response_format" in request.body

    rejection = {"error": {"message": "Unknown parameter: 'response_format'", "type": "invalid"}}
    server.set_rules(
        [
            Rule(MARK, Reply.error(400, rejection), when=asks_schema),
            Rule(MARK, Reply.text("Result:\n```json\n" + json.dumps(FINDINGS) + "\n```")),
        ]
    )
    runtime = runtime_for(server)
    [[first], [second]], _ = converse(
        runtime, (spec(key="correctness#1"), ["Review"]), (spec(key="correctness#2"), ["Review"])
    )

    assert first.structured is None
    assert second.structured is None
    assert parse_answer(first.text).findings[0].line == 2
    assert parse_answer(second.text).findings[0].line == 2
    assert [asks_schema(r) for r in completions(server)] == [True, False, False]
    assert runtime.response_format_supported is False


def test_model_from_env_else_a_clear_error(server: ScriptedModelServer) -> None:
    runtime = runtime_for(server, OPENAI_MODEL="local-model")
    assert runtime.default_model() == "local-model"
    [[turn]], _ = converse(runtime, (spec(model=None), ["Review"]))
    assert completions(server)[-1].model == "local-model"
    assert turn.model == "local-model"
    with pytest.raises(SessionError, match="--model"):
        converse(runtime_for(server), (spec(model=None), ["Review"]))


def test_default_endpoint_needs_a_key() -> None:
    async def enter() -> None:
        async with OpenAIRuntime(env={}):
            pass

    with pytest.raises(RuntimeUnavailable, match="OPENAI_API_KEY"):
        anyio.run(enter)


def test_error_chunk_in_the_stream_is_mapped() -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"content": "Hal"}, "finish_reason": None}]},
        {"error": {"message": "upstream overloaded", "code": 503}},
    ]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks)

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    runtime = OpenAIRuntime(
        env={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, transport=httpx.MockTransport(reply)
    )
    with pytest.raises(RetryableSessionError, match="upstream overloaded"):
        converse(runtime, (spec(), ["Review"]))
