"""The Anthropic runtime: reviewer sessions on the Messages API over httpx, streaming.

Structured output is a forced tool: the model is offered exactly one tool,
``submit_review``, whose input schema is the answer schema, and
``tool_choice`` makes it call it. Its input is the structured answer; a text
answer is still accepted and parsed by ``answers.parse_answer``.

This runtime has no repository tools: the reviewer sees only what the prompt
holds (the diff chunk and guidelines). The conversation lives in the session
object, so the repair turn continues it; the API needs every ``tool_use`` to
be answered by a ``tool_result`` at the start of the next user turn.

The client's lifecycle, the key check and the model's name come from
``http_api.HttpApiRuntime``, shared with the OpenAI runtime.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from coordinator.errors import RetryableSessionError, SessionError
from coordinator.events import EventSink, SessionStarted, TextDelta, Usage, UsageUpdated
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.runtimes.http_api import (
    DEFAULT_TIMEOUT,
    HttpApiRuntime,
    iter_sse_json,
    status_error,
)

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
ANSWER_TOOL = "submit_review"

# An ESTIMATE from published list prices, USD per million tokens (input, output).
# Cache writes are billed at 1.25x input, cache reads at 0.1x input. Models not
# listed cost 0 rather than a guess.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-1": (15.0, 75.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-4-5": (3.0, 15.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
    "claude-3-7-sonnet": (3.0, 15.0),
    "claude-3-5-sonnet": (3.0, 15.0),
    "claude-3-5-haiku": (0.8, 4.0),
    "claude-3-opus": (15.0, 75.0),
    "claude-3-haiku": (0.25, 1.25),
}
_VERSION_SUFFIX = re.compile(r"-(\d{8}|latest|0)$")


@dataclass
class TokenCounts:
    input: int = 0  # uncached input
    cache_write: int = 0
    cache_read: int = 0
    output: int = 0

    def update(self, usage: Mapping[str, Any]) -> None:
        """Take the counts a usage object carries (message_delta repeats running totals)."""
        for name, key in (
            ("input", "input_tokens"),
            ("cache_write", "cache_creation_input_tokens"),
            ("cache_read", "cache_read_input_tokens"),
            ("output", "output_tokens"),
        ):
            if isinstance(usage.get(key), int):
                setattr(self, name, usage[key])


def estimate_cost(model: str, tokens: TokenCounts) -> float:
    price = PRICES_PER_MTOK.get(_VERSION_SUFFIX.sub("", model.removeprefix("anthropic/")))
    if price is None:
        return 0.0
    per_input, per_output = price
    billed_input = tokens.input + 1.25 * tokens.cache_write + 0.1 * tokens.cache_read
    return (billed_input * per_input + tokens.output * per_output) / 1_000_000


class AnthropicRuntime(HttpApiRuntime):
    name = "anthropic"
    DEFAULT_BASE_URL = DEFAULT_BASE_URL
    KEY_ENV, URL_ENV, MODEL_ENV = "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "ANTHROPIC_MODEL"
    NO_KEY = (
        "the anthropic runtime needs ANTHROPIC_API_KEY "
        "(or ANTHROPIC_BASE_URL for a gateway that needs no key)"
    )

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        max_tokens: int = 8192,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(env, timeout, transport)
        self._max_tokens = max_tokens

    def _headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    @asynccontextmanager
    async def open_session(
        self, spec: SessionSpec, emit: EventSink
    ) -> AsyncIterator[AnthropicSession]:
        client, model = self._client_and_model(spec)
        session = AnthropicSession(client, spec, emit, model, self._max_tokens)
        emit(SessionStarted(spec.key, spec.agent.name, session.session_id))
        yield session  # nothing to abort remotely: cancelling the task closes the stream


@dataclass
class _Reply:
    content: list[dict[str, Any]] = field(default_factory=list)
    tokens: TokenCounts = field(default_factory=TokenCounts)
    model: str | None = None
    stopped: bool = False
    tool_inputs: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # None: bad JSON
    raw_tool_json: dict[str, str] = field(default_factory=dict)


class AnthropicSession:
    def __init__(
        self,
        client: httpx.AsyncClient,
        spec: SessionSpec,
        emit: EventSink,
        model: str,
        max_tokens: int,
    ) -> None:
        self._client = client
        self._spec = spec
        self._emit = emit
        self._model = model
        self._max_tokens = max_tokens
        self.session_id = f"anthropic-{uuid.uuid4().hex[:12]}"
        self._messages: list[dict[str, Any]] = []
        self._usage = Usage()

    def _user_turn(self, text: str) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        previous = self._messages[-1]["content"] if self._messages else []
        for block in previous:
            if block.get("type") == "tool_use":
                content.append(
                    {"type": "tool_result", "tool_use_id": block["id"], "content": "Received."}
                )
        content.append({"type": "text", "text": text})
        return {"role": "user", "content": content}

    async def prompt(self, text: str) -> TurnResult:
        messages = [*self._messages, self._user_turn(text)]
        body: dict[str, Any] = {
            "model": self._model,
            "max_tokens": self._max_tokens,
            # One breakpoint after the system text: every session of a reviewer shares
            # it, so from the second session on it is a cache read (0.1x input).
            "system": [
                {
                    "type": "text",
                    "text": self._spec.system_prompt,
                    "cache_control": {"type": "ephemeral"},
                }
            ],
            "messages": messages,
            "tools": [
                {
                    "name": ANSWER_TOOL,
                    "description": "Submit the review: every finding, or an empty list.",
                    "input_schema": self._spec.output_schema,
                }
            ],
            "tool_choice": {"type": "tool", "name": ANSWER_TOOL},
            "stream": True,
        }
        if self._spec.agent.temperature is not None:
            body["temperature"] = self._spec.agent.temperature
        reply = await self._stream(body)
        # History changes only after a complete reply, so a failed turn can be re-sent.
        self._messages = [*messages, {"role": "assistant", "content": reply.content}]
        model = reply.model or self._model
        tokens = reply.tokens
        self._usage = self._usage + Usage(
            tokens.input + tokens.cache_write + tokens.cache_read,
            tokens.output,
            estimate_cost(model, tokens),
        )
        self._emit(UsageUpdated(self._spec.key, self._spec.agent.name, self._usage))
        answers = [b["id"] for b in reply.content if b.get("name") == ANSWER_TOOL]
        structured = reply.tool_inputs.get(answers[-1]) if answers else None
        text_out = "".join(b["text"] for b in reply.content if b["type"] == "text")
        if answers and structured is None:  # unparsable tool input: keep it for the error report
            text_out = text_out or reply.raw_tool_json.get(answers[-1], "")
        return TurnResult(
            text=text_out,
            structured=structured,
            usage=self._usage,
            session_id=self.session_id,
            model=model,
        )

    async def _stream(self, body: Mapping[str, Any]) -> _Reply:
        try:
            async with self._client.stream("POST", "/v1/messages", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise status_error("Anthropic", response, _error_message(response))
                reply = await self._read(response)
        except httpx.TransportError as exc:
            raise RetryableSessionError(
                f"Anthropic API request failed: {str(exc) or type(exc).__name__}"
            ) from exc
        if not reply.stopped:
            raise RetryableSessionError("Anthropic API stream ended before message_stop")
        return reply

    async def _read(self, response: httpx.Response) -> _Reply:
        reply = _Reply()
        blocks: dict[int, dict[str, Any]] = {}
        partial_json: dict[int, list[str]] = {}
        async for event in iter_sse_json(response):
            kind = event.get("type")
            if kind == "message_start":
                message = event.get("message") or {}
                reply.model = message.get("model") or None
                reply.tokens.update(message.get("usage") or {})
            elif kind == "content_block_start":
                index = int(event.get("index", len(blocks)))
                blocks[index] = dict(event.get("content_block") or {})
                partial_json[index] = []
            elif kind == "content_block_delta":
                self._on_delta(blocks, partial_json, event)
            elif kind == "content_block_stop":
                index = int(event.get("index", -1))
                block = blocks.get(index)
                if block is not None and block.get("type") == "tool_use":
                    raw = "".join(partial_json.get(index, []))
                    parsed = _tool_input(raw)
                    block["input"] = parsed or {}  # the history needs an object here
                    reply.tool_inputs[str(block.get("id"))] = parsed
                    reply.raw_tool_json[str(block.get("id"))] = raw
            elif kind == "message_delta":
                reply.tokens.update(event.get("usage") or {})
            elif kind == "message_stop":
                reply.stopped = True
            elif kind == "error":
                raise _stream_error(event.get("error") or {})
        reply.content = [_clean_block(blocks[i]) for i in sorted(blocks)]
        return reply

    def _on_delta(
        self,
        blocks: dict[int, dict[str, Any]],
        partial_json: dict[int, list[str]],
        event: Mapping[str, Any],
    ) -> None:
        index = int(event.get("index", -1))
        delta = event.get("delta") or {}
        block = blocks.get(index)
        if block is None:
            return
        if delta.get("type") == "text_delta":
            piece = str(delta.get("text", ""))
            block["text"] = block.get("text", "") + piece
            if piece:
                self._emit(TextDelta(self._spec.key, self._spec.agent.name, piece))
        elif delta.get("type") == "input_json_delta":
            partial_json[index].append(str(delta.get("partial_json", "")))


def _tool_input(raw: str) -> dict[str, Any] | None:
    """The tool input object, or None when the JSON is broken (e.g. cut off at max_tokens)."""
    try:
        value = json.loads(raw) if raw.strip() else {}
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _clean_block(block: dict[str, Any]) -> dict[str, Any]:
    """Keep what the API accepts back in the next request's history."""
    if block.get("type") == "text":
        return {"type": "text", "text": block.get("text", "")}
    if block.get("type") == "tool_use":
        return {k: block.get(k) for k in ("type", "id", "name", "input")}
    return block


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase
    kind, message = error.get("type"), error.get("message")
    return f"{kind}: {message}" if kind and message else str(message or kind or response.text[:300])


def _stream_error(error: Mapping[str, Any]) -> SessionError:
    kind, message = str(error.get("type", "error")), str(error.get("message", ""))
    text = f"Anthropic API error in the stream: {kind}: {message}"
    if kind in ("overloaded_error", "api_error", "rate_limit_error", "timeout_error"):
        return RetryableSessionError(text)
    return SessionError(text)
