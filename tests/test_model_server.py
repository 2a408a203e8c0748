"""The scripted model server: wire formats, scripting, failures, and the real runtimes on it."""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import fixtures
from tests.fakes.fixtures import StartOpencode
from tests.fakes.model_server import (
    RecordedRequest,
    Reply,
    Rule,
    ScriptedModelServer,
    ToolCall,
    Usage,
)
from tests.fakes.opencode_env import (
    claude_command,
    claude_env,
    fake_provider_config,
    reviewer_agent,
    run_claude,
)

FINDINGS = {"findings": [{"path": "a.py", "line": 2, "severity": "low", "title": "off by one"}]}
ANSWER = json.dumps(FINDINGS)
SOURCE = "def f(x):\n    return x + 1  # MARKER-7f3a\n"

# Fixtures, imported explicitly (tests/conftest.py may re-export them later).
model_server = fixtures.model_server
opencode_bin = fixtures.opencode_bin
claude_bin = fixtures.claude_bin
start_opencode = fixtures.start_opencode


# --------------------------------------------------------------------------- wire helpers


def chat(srv: ScriptedModelServer, messages: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(
            f"{srv.openai_base_url}/chat/completions",
            json={"model": "m", "messages": messages, **extra},
            headers={"authorization": "Bearer secret"},
        )


def openai_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    lines = [ln for ln in response.text.splitlines() if ln.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(ln[6:]) for ln in lines[:-1]]


def anthropic_message(
    srv: ScriptedModelServer, messages: list[dict[str, Any]], **extra: Any
) -> httpx.Response:
    with httpx.Client(timeout=10) as http:
        return http.post(
            f"{srv.base_url}/v1/messages",
            json={"model": "claude-x", "max_tokens": 100, "messages": messages, **extra},
            headers={"x-api-key": "secret", "anthropic-version": "2023-06-01"},
        )


def anthropic_events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in response.text.strip().split("\n\n"):
        name, data = frame.split("\n")
        assert name.startswith("event: ")
        assert data.startswith("data: ")
        events.append((name[7:], json.loads(data[6:])))
    return events


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


# --------------------------------------------------------------------------- OpenAI wire format


def test_openai_stream_splits_text_into_deltas_and_reports_usage(
    model_server: ScriptedModelServer,
) -> None:
    model_server.set_rules([Rule("hello", Reply.text("Hello there, reviewer!", chunks=4))])

    response = chat(
        model_server, [user("hello")], stream=True, stream_options={"include_usage": True}
    )

    assert response.headers["content-type"] == "text/event-stream"
    chunks = openai_chunks(response)
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks if c["choices"]]
    assert "".join(d for d in deltas if d) == "Hello there, reviewer!"
    assert len([d for d in deltas if d]) == 4
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 100
    assert chunks[-1]["usage"]["completion_tokens"] == 20


def test_openai_stream_without_include_usage_has_no_usage_chunk(
    model_server: ScriptedModelServer,
) -> None:
    chunks = openai_chunks(chat(model_server, [user("x")], stream=True))

    assert all(c["choices"] for c in chunks)
    assert "usage" not in chunks[-1]


def test_openai_non_streaming_reply_with_custom_usage(model_server: ScriptedModelServer) -> None:
    usage = Usage(input_tokens=1000, output_tokens=50, cached_tokens=400, reasoning_tokens=7)
    model_server.set_rules([Rule(None, Reply.text("plain", usage=usage, stop="length"))])

    body = chat(model_server, [user("x")]).json()

    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "plain"}
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["prompt_tokens"] == 1000
    assert body["usage"]["prompt_tokens_details"] == {"cached_tokens": 400}
    assert body["usage"]["completion_tokens_details"] == {"reasoning_tokens": 7}


def test_openai_tool_call_then_answer_after_the_tool_result(
    model_server: ScriptedModelServer,
) -> None:
    model_server.set_rules(
        [
            Rule(
                "review a.py",
                [
                    Reply.tool_call("read", {"filePath": "a.py"}, id="call_1", text="Let me look."),
                    Reply.text(ANSWER),
                ],
            )
        ]
    )
    first = chat(model_server, [user("review a.py")], stream=True)
    chunks = openai_chunks(first)
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0]["id"] == "call_1"
    assert calls[0]["function"]["name"] == "read"
    assert json.loads("".join(c["function"]["arguments"] for c in calls)) == {"filePath": "a.py"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"

    history = [
        user("review a.py"),
        {
            "role": "assistant",
            "content": "Let me look.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "read", "arguments": '{"filePath":"a.py"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": SOURCE},
    ]
    second = chat(model_server, history)

    assert second.json()["choices"][0]["message"]["content"] == ANSWER
    first_req, second_req = model_server.model_requests
    assert (first_req.step, second_req.step) == (0, 1)
    assert second_req.tool_results == [SOURCE]
    assert "MARKER-7f3a" in second_req.text


def test_turn_steps_stay_separate_across_concurrent_conversations(
    model_server: ScriptedModelServer,
) -> None:
    """Each conversation's step comes from its own history, so parallel sessions don't mix."""
    model_server.set_rules(
        [
            Rule(
                "review",
                [Reply.tool_call("read", {"filePath": "x"}, chunk_delay=0.01), Reply.text("done")],
            )
        ]
    )

    def conversation(n: int) -> tuple[str, str | None]:
        first = chat(model_server, [user(f"review {n}")]).json()["choices"][0]["message"]
        call = first["tool_calls"][0]
        history = [
            user(f"review {n}"),
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": call["id"], "content": f"file {n}"},
        ]
        second = chat(model_server, history).json()["choices"][0]["message"]
        return call["function"]["name"], second["content"]

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(conversation, range(16)))

    assert results == [("read", "done")] * 16
    ids = [
        r.body["messages"][1]["tool_calls"][0]["id"]
        for r in model_server.model_requests
        if r.step == 1
    ]
    assert len(set(ids)) == 16  # every generated tool call id is unique


def test_parallel_tool_calls_in_one_turn(model_server: ScriptedModelServer) -> None:
    model_server.set_rules(
        [
            Rule(
                None,
                Reply.tool_calls(
                    [ToolCall("grep", {"pattern": "x"}), ToolCall("glob", {"pattern": "*.py"})]
                ),
            )
        ]
    )

    message = chat(model_server, [user("x")]).json()["choices"][0]["message"]

    assert [c["function"]["name"] for c in message["tool_calls"]] == ["grep", "glob"]
    assert json.loads(message["tool_calls"][1]["function"]["arguments"]) == {"pattern": "*.py"}


# --------------------------------------------------------------------------- Anthropic wire format


def test_anthropic_stream_event_sequence_with_text_and_tool_use(
    model_server: ScriptedModelServer,
) -> None:
    model_server.set_rules(
        [
            Rule(
                "review",
                Reply.tool_call("Read", {"file_path": "/r/a.py"}, id="toolu_1", text="Reading."),
            )
        ]
    )

    response = anthropic_message(model_server, [user("review")], stream=True)

    events = anthropic_events(response)
    names = [name for name, _ in events]
    assert names[:2] == ["message_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == names.count("content_block_stop") == 2
    text = "".join(
        e["delta"]["text"] for n, e in events if n == "content_block_delta" and e["index"] == 0
    )
    assert text == "Reading."
    starts = [e["content_block"] for n, e in events if n == "content_block_start"]
    assert starts[1] == {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}
    partial = "".join(
        e["delta"]["partial_json"]
        for n, e in events
        if n == "content_block_delta" and e["index"] == 1
    )
    assert json.loads(partial) == {"file_path": "/r/a.py"}
    message_delta = events[-2][1]
    assert message_delta["delta"]["stop_reason"] == "tool_use"
    assert message_delta["usage"] == {"output_tokens": 20}
    assert events[0][1]["message"]["usage"]["input_tokens"] == 100


def test_anthropic_non_streaming_tool_use_then_answer(model_server: ScriptedModelServer) -> None:
    model_server.set_rules(
        [Rule("review", [Reply.tool_call("Read", {"file_path": "/r/a.py"}), Reply.text(ANSWER)])]
    )

    first = anthropic_message(model_server, [user("review")]).json()
    assert first["stop_reason"] == "tool_use"
    tool_use = first["content"][0]
    assert tool_use["type"] == "tool_use"
    assert tool_use["input"] == {"file_path": "/r/a.py"}

    history = [
        user("review"),
        {"role": "assistant", "content": first["content"]},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": tool_use["id"],
                    "content": [{"type": "text", "text": SOURCE}],
                }
            ],
        },
    ]
    second = anthropic_message(
        model_server, history, system=[{"type": "text", "text": "You review."}]
    ).json()

    assert second["content"] == [{"type": "text", "text": ANSWER}]
    assert second["stop_reason"] == "end_turn"
    assert model_server.model_requests[1].tool_results == [SOURCE]
    assert model_server.model_requests[1].text.startswith("You review.")


def test_anthropic_count_tokens_and_models(model_server: ScriptedModelServer) -> None:
    with httpx.Client(base_url=model_server.base_url, timeout=10) as http:
        counted = http.post(
            "/v1/messages/count_tokens", json={"model": "m", "messages": [user("x" * 400)]}
        )
        models = http.get("/v1/models", headers={"anthropic-version": "2023-06-01"})

    assert counted.json() == {"input_tokens": 100}
    assert models.json()["data"][0]["id"] == "m"
    assert models.json()["data"][0]["type"] == "model"  # Anthropic shape
    assert models.json()["data"][0]["object"] == "model"  # OpenAI shape


# --------------------------------------------------------------------------- structured output


def test_structured_reply_calls_the_structured_output_tool_when_offered(
    model_server: ScriptedModelServer,
) -> None:
    model_server.set_rules([Rule(None, Reply.structured(FINDINGS))])
    tool = {
        "type": "function",
        "function": {"name": "StructuredOutput", "parameters": {"type": "object"}},
    }

    openai = chat(model_server, [user("x")], tools=[tool], tool_choice="required").json()
    anthropic = anthropic_message(
        model_server,
        [user("x")],
        tools=[{"name": "StructuredOutput", "input_schema": {"type": "object"}}],
    ).json()

    call = openai["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == "StructuredOutput"
    assert json.loads(call["arguments"]) == FINDINGS
    assert anthropic["content"][0]["name"] == "StructuredOutput"
    assert anthropic["content"][0]["input"] == FINDINGS


def test_structured_reply_is_json_text_without_the_tool(model_server: ScriptedModelServer) -> None:
    model_server.set_rules([Rule(None, Reply.structured(FINDINGS))])

    openai = chat(model_server, [user("x")]).json()
    anthropic = anthropic_message(model_server, [user("x")]).json()

    assert json.loads(openai["choices"][0]["message"]["content"]) == FINDINGS
    assert json.loads(anthropic["content"][0]["text"]) == FINDINGS


# --------------------------------------------------------------------------- failures


def test_error_with_retry_after_then_success_on_the_retry(
    model_server: ScriptedModelServer,
) -> None:
    model_server.set_rules(
        [Rule("x", [Reply.error(429, retry_after=2), Reply.text("ok")], step="call")]
    )

    failed = chat(model_server, [user("x")])
    retried = chat(model_server, [user("x")])  # same history: "call" steps count requests

    assert failed.status_code == 429
    assert failed.headers["retry-after"] == "2"
    assert failed.json() == {
        "error": {"message": "fake 429 error", "type": "fake_error", "code": 429}
    }
    assert retried.json()["choices"][0]["message"]["content"] == "ok"
    assert [r.reply_kind for r in model_server.model_requests] == ["error", "message"]


def test_error_body_matches_each_api(model_server: ScriptedModelServer) -> None:
    model_server.set_rules([Rule(None, Reply.error(529, headers={"x-should-retry": "true"}))])

    response = anthropic_message(model_server, [user("x")], stream=True)

    assert response.status_code == 529
    assert response.headers["x-should-retry"] == "true"
    assert response.json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "fake 529 error"},
    }


def test_custom_error_body(model_server: ScriptedModelServer) -> None:
    model_server.set_rules(
        [Rule(None, Reply.error(400, {"error": {"message": "context too long"}}))]
    )

    response = chat(model_server, [user("x")])

    assert response.status_code == 400
    assert response.json() == {"error": {"message": "context too long"}}


def test_drop_cuts_the_stream_after_k_events(model_server: ScriptedModelServer) -> None:
    model_server.set_rules([Rule(None, Reply.drop(3, Reply.text("a long answer", chunks=5)))])
    received: list[str] = []

    with (
        httpx.Client(timeout=10) as http,
        pytest.raises(httpx.RemoteProtocolError),
        http.stream(
            "POST",
            f"{model_server.openai_base_url}/chat/completions",
            json={"messages": [], "stream": True},
        ) as response,
    ):
        received.extend(line for line in response.iter_lines() if line)

    assert len(received) == 3
    assert "[DONE]" not in "".join(received)


def test_client_hanging_up_mid_stream_does_not_break_the_server(
    model_server: ScriptedModelServer,
) -> None:
    model_server.set_rules([Rule("slow", Reply.text("a b c d e f", chunks=6, chunk_delay=0.05))])

    with (
        httpx.Client(timeout=10) as http,
        http.stream(
            "POST",
            f"{model_server.openai_base_url}/chat/completions",
            json={"messages": [user("slow")], "stream": True},
        ) as response,
    ):
        first_line = next(response.iter_lines())

    assert first_line.startswith("data: ")
    assert chat(model_server, [user("next")]).status_code == 200


def test_drop_on_a_non_streaming_request_sends_nothing(model_server: ScriptedModelServer) -> None:
    model_server.set_rules([Rule(None, Reply.drop(0))])

    with pytest.raises(httpx.RemoteProtocolError):
        chat(model_server, [user("x")])


def test_stall_delays_the_first_byte_and_chunks(model_server: ScriptedModelServer) -> None:
    model_server.set_rules(
        [Rule(None, Reply.stall(0.3, Reply.text("abc", chunks=3, chunk_delay=0.05)))]
    )

    started = time.monotonic()
    response = chat(model_server, [user("x")], stream=True)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    assert 0.3 + 4 * 0.05 <= elapsed < 3


def test_stopping_the_server_aborts_a_stalled_reply() -> None:
    srv = ScriptedModelServer([Rule(None, Reply.stall(60))]).start()
    errors: list[BaseException] = []

    def call() -> None:
        try:
            chat(srv, [user("x")], stream=True)
        except httpx.HTTPError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    srv.wait_for_requests(1)
    started = time.monotonic()
    srv.stop()
    caller.join(10)

    assert time.monotonic() - started < 5
    assert not caller.is_alive()
    assert len(errors) == 1
    assert not any(t.name.startswith("fake-model-server") for t in threading.enumerate())


# --------------------------------------------------------------------------- scripting and recording


def test_rules_match_by_substring_regex_predicate_and_api(
    model_server: ScriptedModelServer,
) -> None:
    model_server.set_rules(
        [
            Rule("alpha", Reply.text("substring")),
            Rule(re.compile(r"be+ta\d"), Reply.text("regex")),
            Rule(None, Reply.text("predicate"), when=lambda r: r.model == "special"),
            Rule(None, Reply.text("anthropic only"), api="anthropic"),
        ],
        default=Reply.text("default"),
    )

    def openai(text: str, model: str = "m") -> str:
        body = chat(model_server, [user(text)], model=model).json()
        return str(body["choices"][0]["message"]["content"])

    assert openai("say alpha") == "substring"
    assert openai("say beeeta7") == "regex"
    assert openai("anything", model="special") == "predicate"
    assert openai("anything") == "default"
    assert (
        anthropic_message(model_server, [user("anything")]).json()["content"][0]["text"]
        == "anthropic only"
    )
    assert [r.rule for r in model_server.model_requests] == [
        "alpha",
        r"re:be+ta\d",
        "<any>",
        None,  # the default reply
        "<any>",
    ]


def test_nth_and_times_limit_a_rule(model_server: ScriptedModelServer) -> None:
    model_server.set_rules(
        [
            Rule("x", Reply.text("second only"), nth=2),
            Rule("x", Reply.text("first two"), times=2),
        ],
        default=Reply.text("fallback"),
    )

    answers = [
        chat(model_server, [user("x")]).json()["choices"][0]["message"]["content"] for _ in range(4)
    ]

    assert answers == ["first two", "second only", "first two", "fallback"]


def test_default_reply_is_findings_json(model_server: ScriptedModelServer) -> None:
    assert (
        chat(model_server, [user("x")]).json()["choices"][0]["message"]["content"]
        == '{"findings": []}'
    )


def test_title_generation_goes_to_the_default_reply_not_the_rules(
    model_server: ScriptedModelServer,
) -> None:
    model_server.set_rules([Rule("review a.py", Reply.tool_call("read", {"filePath": "a.py"}))])
    title_call = [
        {"role": "system", "content": "You are a title generator. You output ONLY a thread title."},
        user("review a.py"),
    ]

    message = chat(model_server, title_call).json()["choices"][0]["message"]

    assert message["content"] == '{"findings": []}'
    assert model_server.model_requests[0].side_call


def test_requests_are_recorded_without_secrets(model_server: ScriptedModelServer) -> None:
    chat(model_server, [user("needle in a haystack")])
    anthropic_message(model_server, [user("other")])

    first, second = model_server.requests
    assert (first.api, first.path, second.api) == ("openai", "/v1/chat/completions", "anthropic")
    assert "authorization" not in first.headers
    assert "x-api-key" not in second.headers
    assert second.headers["anthropic-version"] == "2023-06-01"
    assert model_server.requests_matching("needle") == [first]
    assert model_server.requests_matching(re.compile("hay.*")) == [first]


def test_unknown_routes_are_recorded_and_answered_404(model_server: ScriptedModelServer) -> None:
    with httpx.Client(base_url=model_server.base_url, timeout=10) as http:
        response = http.post("/v1/embeddings", json={"input": "x"})

    assert response.status_code == 404
    assert [(r.method, r.path) for r in model_server.unknown_requests] == [
        ("POST", "/v1/embeddings")
    ]


def test_reset_replaces_the_script_and_forgets_requests(model_server: ScriptedModelServer) -> None:
    model_server.set_rules([Rule(None, Reply.text("old"))])
    chat(model_server, [user("x")])

    model_server.reset([Rule(None, Reply.text("new"))])

    assert model_server.requests == []
    assert chat(model_server, [user("x")]).json()["choices"][0]["message"]["content"] == "new"


# --------------------------------------------------------------------------- real OpenCode


@contextlib.contextmanager
def opencode_events(http: httpx.Client) -> Iterator[Iterator[dict[str, Any]]]:
    """Subscribe to ``/event`` (before prompting: there is no replay)."""
    with http.stream("GET", "/event") as response:
        response.raise_for_status()

        def events() -> Iterator[dict[str, Any]]:
            for line in response.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])

        stream = events()
        assert next(stream)["type"] == "server.connected"
        yield stream


def _session_of(event: dict[str, Any]) -> str | None:
    props = event.get("properties", {})
    for holder in (props, props.get("part") or {}, props.get("info") or {}):
        if isinstance(holder.get("sessionID"), str):
            return str(holder["sessionID"])
    return None


def until_idle(
    stream: Iterator[dict[str, Any]], sessions: set[str], timeout: float = 40
) -> list[dict[str, Any]]:
    """Events of ``sessions`` until each has gone ``session.idle``."""
    deadline, waiting, seen = time.monotonic() + timeout, set(sessions), []
    for event in stream:
        session = _session_of(event)
        if session in sessions:
            seen.append(event)
            if event["type"] == "session.idle":
                waiting.discard(session)
        if not waiting:
            return seen
        if time.monotonic() > deadline:
            break
    raise TimeoutError(f"sessions {waiting} never went idle; saw {[e['type'] for e in seen]}")


def wait_for(
    probe: Callable[[], list[RecordedRequest]], timeout: float = 10
) -> list[RecordedRequest]:
    """Poll until ``probe`` returns a non-empty list (work a runtime does after going idle)."""
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, "timed out waiting for requests"
        time.sleep(0.05)
    return found


def opencode_config(srv: ScriptedModelServer) -> dict[str, Any]:
    config = fake_provider_config(srv.base_url)
    config["agent"] = {"reviewer": reviewer_agent("You review code. Answer with JSON findings.")}
    return config


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    repo.mkdir()
    (repo / "a.py").write_text(SOURCE)
    return repo


def prompt_body(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "agent": "reviewer",
        "model": {"providerID": "fake", "modelID": "m"},
        "parts": [{"type": "text", "text": text}],
        **extra,
    }


def opencode_client(url: str, repo: Path) -> httpx.Client:
    return httpx.Client(
        base_url=url, params={"directory": str(repo)}, timeout=httpx.Timeout(10, read=30)
    )


@pytest.mark.opencode
@pytest.mark.timeout(60)
def test_opencode_runs_the_read_tool_then_answers(
    model_server: ScriptedModelServer, start_opencode: StartOpencode, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    model_server.set_rules(
        [
            Rule(
                "REVIEW-A",
                [
                    Reply.tool_call("read", {"filePath": "a.py"}, text="Let me look."),
                    Reply.text(ANSWER),
                ],
            )
        ]
    )
    server = start_opencode(repo, opencode_config(model_server))

    with opencode_client(server.url, repo) as http, opencode_events(http) as stream:
        session = http.post("/session", json={"title": "review a.py"}).json()["id"]
        prompted = http.post(f"/session/{session}/prompt_async", json=prompt_body("REVIEW-A"))
        assert prompted.status_code == 204
        events = until_idle(stream, {session})
        messages = http.get(f"/session/{session}/message").json()

    first, second = model_server.requests_matching("REVIEW-A")
    assert (first.step, second.step) == (0, 1)
    assert first.conversation == second.conversation == session
    assert sorted(first.tool_names) == ["glob", "grep", "read"]  # read-only agent
    assert first.body["stream_options"] == {"include_usage": True}
    assert any("MARKER-7f3a" in result for result in second.tool_results)
    assert not model_server.unknown_requests

    tool_parts = [p for m in messages for p in m["parts"] if p["type"] == "tool"]
    assert [(p["tool"], p["state"]["status"]) for p in tool_parts] == [("read", "completed")]
    final = messages[-1]
    assert final["info"]["finish"] == "stop"
    assert "".join(p["text"] for p in final["parts"] if p["type"] == "text") == ANSWER
    assert any(e["type"] == "message.part.delta" for e in events), server.log()


@pytest.mark.opencode
@pytest.mark.timeout(60)
def test_opencode_structured_output_lands_in_info_structured(
    model_server: ScriptedModelServer, start_opencode: StartOpencode, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    model_server.set_rules(
        [
            Rule(
                "REVIEW-S",
                [Reply.tool_call("read", {"filePath": "a.py"}), Reply.structured(FINDINGS)],
            )
        ]
    )
    server = start_opencode(repo, opencode_config(model_server))
    schema = {
        "type": "object",
        "properties": {"findings": {"type": "array"}},
        "required": ["findings"],
    }

    with opencode_client(server.url, repo) as http, opencode_events(http) as stream:
        session = http.post("/session", json={"title": "structured"}).json()["id"]
        body = prompt_body("REVIEW-S: a.py", format={"type": "json_schema", "schema": schema})
        assert http.post(f"/session/{session}/prompt_async", json=body).status_code == 204
        events = until_idle(stream, {session})
        assistant = [
            e["properties"]["info"]
            for e in events
            if e["type"] == "message.updated" and e["properties"]["info"]["role"] == "assistant"
        ][-1]
        # GET /session/{id}/message answers 400 once a prompt carried `format` (1.18.33); one
        # message by id works.
        stored = http.get(f"/session/{session}/message/{assistant['id']}").json()

    first, second = model_server.requests_matching("REVIEW-S")
    assert first.body["tool_choice"] == "required"
    assert "StructuredOutput" in first.tool_names
    assert any("MARKER-7f3a" in result for result in second.tool_results)
    assert assistant["structured"] == FINDINGS
    assert stored["info"]["structured"] == FINDINGS
    assert stored["info"]["finish"] == "tool-calls"


@pytest.mark.opencode
@pytest.mark.timeout(60)
def test_opencode_parallel_sessions_each_follow_their_own_script_step(
    model_server: ScriptedModelServer, start_opencode: StartOpencode, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    for name in ("b", "c", "d"):
        (repo / f"{name}.py").write_text(f"{name.upper()} = 'content of {name}'\n")
    model_server.set_rules(
        [
            Rule(
                f"REVIEW-{name}",
                [
                    Reply.tool_call("read", {"filePath": f"{name}.py"}, chunk_delay=0.05),
                    Reply.text(f"done {name}"),
                ],
            )
            for name in ("b", "c", "d")
        ]
    )
    server = start_opencode(repo, opencode_config(model_server))

    with opencode_client(server.url, repo) as http, opencode_events(http) as stream:
        # "d" has no title: OpenCode asks small_model for one, with d's prompt in the request.
        sessions = {
            name: http.post("/session", json={"title": name} if name != "d" else {}).json()["id"]
            for name in ("b", "c", "d")
        }
        for name, session in sessions.items():
            prompted = http.post(
                f"/session/{session}/prompt_async", json=prompt_body(f"REVIEW-{name}")
            )
            assert prompted.status_code == 204
        until_idle(stream, set(sessions.values()))
        finals = {
            name: http.get(f"/session/{session}/message", params={"limit": 1}).json()[0]
            for name, session in sessions.items()
        }
    title_call = wait_for(lambda: [r for r in model_server.model_requests if r.side_call])

    for name, session in sessions.items():
        requests: list[RecordedRequest] = [
            r for r in model_server.requests_matching(f"REVIEW-{name}") if not r.side_call
        ]
        assert [r.step for r in requests] == [0, 1]
        assert {r.conversation for r in requests} == {session}
        assert f"content of {name}" in requests[1].tool_results[0]
        assert [p["text"] for p in finals[name]["parts"] if p["type"] == "text"] == [f"done {name}"]
    assert [(r.conversation, r.rule, r.tool_names) for r in title_call] == [
        (sessions["d"], None, [])
    ]
    assert "REVIEW-d" in title_call[0].text


# --------------------------------------------------------------------------- real Claude Code


def claude_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.mark.claude
@pytest.mark.timeout(60)
def test_claude_reads_a_file_then_answers(
    model_server: ScriptedModelServer, claude_bin: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    model_server.set_rules(
        [
            Rule(
                "REVIEW-C",
                [
                    Reply.tool_call("Read", {"file_path": str(repo / "a.py")}, text="Reading."),
                    Reply.text(ANSWER),
                ],
                api="anthropic",
            )
        ]
    )
    argv = claude_command(
        claude_bin, "REVIEW-C: a.py", model="claude-sonnet-4-5", system_prompt="You review code."
    )

    done = run_claude(argv, cwd=repo, env=claude_env(model_server.base_url, tmp_path))

    assert done.returncode == 0, done.stderr
    lines = claude_lines(done.stdout)
    result = lines[-1]
    assert result["type"] == "result"
    assert result["is_error"] is False
    assert result["result"] == ANSWER
    assert result["num_turns"] == 2
    assert result["usage"]["input_tokens"] == 200  # two model calls, 100 each
    tool_results = [
        block
        for line in lines
        if line["type"] == "user"
        for block in line["message"]["content"]
        if block["type"] == "tool_result"
    ]
    assert "MARKER-7f3a" in str(tool_results[0]["content"])

    first, second = model_server.requests_matching("REVIEW-C")
    assert sorted(first.tool_names) == ["Glob", "Grep", "Read"]  # --tools limits what is offered
    assert "You review code." in first.text
    assert any("MARKER-7f3a" in r for r in second.tool_results)
    assert first.conversation == result["session_id"]
    assert [r.path for r in model_server.requests] == ["/v1/messages", "/v1/messages"]


@pytest.mark.claude
@pytest.mark.timeout(60)
def test_claude_json_schema_uses_the_structured_output_tool(
    model_server: ScriptedModelServer, claude_bin: str, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path)
    model_server.set_rules([Rule("REVIEW-J", Reply.structured(FINDINGS), api="anthropic")])
    schema = {
        "type": "object",
        "properties": {"findings": {"type": "array"}},
        "required": ["findings"],
    }
    argv = claude_command(
        claude_bin,
        "REVIEW-J: a.py",
        model="claude-sonnet-4-5",
        system_prompt="You review code.",
        json_schema=schema,
    )

    done = run_claude(argv, cwd=repo, env=claude_env(model_server.base_url, tmp_path))

    assert done.returncode == 0, done.stderr
    result = claude_lines(done.stdout)[-1]
    assert result["is_error"] is False
    assert result["structured_output"] == FINDINGS
    assert "StructuredOutput" in model_server.requests_matching("REVIEW-J")[0].tool_names
