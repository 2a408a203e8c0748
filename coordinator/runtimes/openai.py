"""The OpenAI runtime: chat completions over httpx, for any OpenAI-compatible server.

That covers OpenAI, Ollama, vLLM, LM Studio and OpenRouter (``OPENAI_BASE_URL``;
``OPENAI_API_KEY`` is optional because local servers need none). Replies are
streamed (``stream_options.include_usage`` for token counts) and structured
output is asked for with ``response_format: json_schema``. Servers that reject
``response_format`` get plain requests for the rest of the runtime's life, so
only the first session pays the failed request; servers that ignore it answer
in text, which ``answers.parse_answer`` parses. No repository tools: the
reviewer sees only what the prompt holds. Cost is whatever the server reports
(OpenRouter's ``usage.cost``), else 0.

Only an ``openai/`` prefix is stripped from the model name: on OpenRouter the
rest (``anthropic/claude-sonnet-4.5``) is the model id itself, so
``openai/gpt-4o`` there is spelled ``openai/openai/gpt-4o``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from coordinator.errors import RetryableSessionError, SessionError
from coordinator.events import EventSink, SessionStarted, TextDelta, Usage, UsageUpdated
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.runtimes.http_api import (
    DEFAULT_TIMEOUT,
    HttpApiRuntime,
    is_retryable_status,
    iter_sse_json,
    status_error,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"


class _ResponseFormatRejected(Exception):
    """The server refused ``response_format``; the request is sent again without it."""


class OpenAIRuntime(HttpApiRuntime):
    name = "openai"
    DEFAULT_BASE_URL = DEFAULT_BASE_URL
    KEY_ENV, URL_ENV, MODEL_ENV = "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_MODEL"
    NO_KEY = (
        "the openai runtime needs OPENAI_API_KEY, or OPENAI_BASE_URL for a local "
        "OpenAI-compatible server (Ollama, vLLM, LM Studio)"
    )

    def __init__(
        self,
        *,
        env: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(env, timeout, transport)
        # Learned once per runtime: does this server accept response_format json_schema?
        self.response_format_supported = True

    def _headers(self, api_key: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    @asynccontextmanager
    async def open_session(
        self, spec: SessionSpec, emit: EventSink
    ) -> AsyncIterator[OpenAISession]:
        client, model = self._client_and_model(spec)
        session = OpenAISession(self, client, spec, emit, model)
        emit(SessionStarted(spec.key, spec.agent.name, session.session_id))
        yield session  # nothing to abort remotely: cancelling the task closes the stream


@dataclass
class _Reply:
    text: str = ""
    model: str | None = None
    finished: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float = 0.0


class OpenAISession:
    def __init__(
        self,
        runtime: OpenAIRuntime,
        client: httpx.AsyncClient,
        spec: SessionSpec,
        emit: EventSink,
        model: str,
    ) -> None:
        self._runtime = runtime
        self._client = client
        self._spec = spec
        self._emit = emit
        self._model = model
        self.session_id = f"openai-{uuid.uuid4().hex[:12]}"
        self._messages: list[dict[str, Any]] = [{"role": "system", "content": spec.system_prompt}]
        self._usage = Usage()

    async def prompt(self, text: str) -> TurnResult:
        messages = [*self._messages, {"role": "user", "content": text}]
        body: dict[str, Any] = {
            "model": self._model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if self._spec.agent.temperature is not None:
            body["temperature"] = self._spec.agent.temperature
        schema_asked = self._runtime.response_format_supported
        if schema_asked:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": "review",
                    "schema": self._spec.output_schema,
                    "strict": False,
                },
            }
        try:
            reply = await self._stream(body)
        except _ResponseFormatRejected:
            self._runtime.response_format_supported = False
            schema_asked = False
            del body["response_format"]
            reply = await self._stream(body)
        # History changes only after a complete reply, so a failed turn can be re-sent.
        self._messages = [*messages, {"role": "assistant", "content": reply.text}]
        self._usage = self._usage + Usage(reply.tokens_in, reply.tokens_out, reply.cost)
        self._emit(UsageUpdated(self._spec.key, self._spec.agent.name, self._usage))
        return TurnResult(
            text=reply.text,
            structured=_json_object(reply.text) if schema_asked else None,
            usage=self._usage,
            session_id=self.session_id,
            model=reply.model or self._model,
        )

    async def _stream(self, body: Mapping[str, Any]) -> _Reply:
        try:
            async with self._client.stream("POST", "/chat/completions", json=body) as response:
                if response.status_code >= 400:
                    await response.aread()
                    message = _error_message(response)
                    if (
                        response.status_code in (400, 422)
                        and "response_format" in body
                        and ("response_format" in response.text or "json_schema" in response.text)
                    ):
                        raise _ResponseFormatRejected(message)
                    raise status_error("OpenAI-compatible", response, message)
                reply = await self._read(response)
        except httpx.TransportError as exc:
            raise RetryableSessionError(
                f"OpenAI-compatible API request failed: {str(exc) or type(exc).__name__}"
            ) from exc
        if not reply.finished:
            raise RetryableSessionError("OpenAI-compatible API stream ended without finish_reason")
        return reply

    async def _read(self, response: httpx.Response) -> _Reply:
        reply = _Reply()
        parts: list[str] = []
        async for chunk in iter_sse_json(response):
            if chunk.get("error"):
                raise _stream_error(chunk["error"])
            reply.model = chunk.get("model") or reply.model
            usage = chunk.get("usage")
            if isinstance(usage, dict):
                reply.tokens_in = int(usage.get("prompt_tokens") or 0)
                reply.tokens_out = int(usage.get("completion_tokens") or 0)
                reply.cost = float(usage.get("cost") or 0.0)
            for choice in chunk.get("choices") or []:
                delta = choice.get("delta") or {}
                # A refusal is kept as text so the failure report shows it.
                piece = delta.get("content") or delta.get("refusal") or ""
                if piece:
                    parts.append(str(piece))
                    self._emit(TextDelta(self._spec.key, self._spec.agent.name, str(piece)))
                if choice.get("finish_reason"):
                    reply.finished = True
        reply.text = "".join(parts)
        return reply


def _json_object(text: str) -> dict[str, Any] | None:
    """The reply as a JSON object when the server honoured the schema; else None (parse the text)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return response.text[:300] or response.reason_phrase
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or error)
    return str(error or response.text[:300])


def _stream_error(error: Any) -> SessionError:
    message = str(error.get("message", error)) if isinstance(error, dict) else str(error)
    code = error.get("code") if isinstance(error, dict) else None
    text = f"OpenAI-compatible API error in the stream: {message}"
    if isinstance(code, int) and is_retryable_status(code):
        return RetryableSessionError(text)
    return SessionError(text)
