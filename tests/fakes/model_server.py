"""A scripted model provider on loopback: OpenAI- and Anthropic-compatible.

Tests point real agent runtimes (``opencode serve``, the ``claude`` CLI) and
council's own HTTP runtimes at this server instead of a model provider. It
speaks just enough of both wire protocols for those clients:

- OpenAI: ``POST /v1/chat/completions`` (SSE with ``stream: true``, including
  the ``stream_options.include_usage`` usage chunk, or one JSON body) and
  ``GET /v1/models``.
- Anthropic: ``POST /v1/messages`` (SSE ``message_start`` ... ``message_stop``,
  or one JSON body), ``POST /v1/messages/count_tokens``, ``GET /v1/models``,
  and any ``HEAD`` (Claude Code probes ``HEAD /api/hello`` unless
  ``CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1``).

Any other route is recorded (``known=False``), logged and answered 404.

Scripting. A model request is answered by the first :class:`Rule` that
matches it, else by the server's ``default`` reply (``{"findings": []}`` as
text). A rule matches on a substring or regex of the request's *text*
(system prompt + message texts + tool results, joined by newlines), an
optional predicate on the :class:`RecordedRequest`, the API, and optionally
only its N-th matching request (``nth``) or its first N (``times``). A rule
holds a sequence of :class:`Reply` values. A runtime's housekeeping calls
(OpenCode's title generator, see :func:`is_side_call`) skip the rules and get
the default reply, so a rule scripted for a review never answers them.

Which reply of the sequence (the multi-turn approach). By default
(``step="turn"``) the reply index is the number of assistant messages already
in the request. Clients resend the whole conversation on every call, so
"first call -> tool call, after the tool result -> final text" needs no
server-side state and stays right when many conversations run at once (as
OpenCode's parallel sessions do): each conversation carries its own count.
A retried request (same history) gets the same reply again. ``step="call"``
instead counts the rule's matching requests across the whole server (the
k-th match gets reply k); use it for "the first attempt fails with 429, the
retry succeeds". In both modes the last reply repeats once the sequence is
used up. Requests also record the client's conversation id when it sends
one (OpenCode ``x-session-id``, Claude Code ``x-claude-code-session-id``),
for assertions.

Concurrency. ``ThreadingHTTPServer`` with one thread per connection; rule
selection and recording happen under one lock. ``stop()`` wakes stalled
replies, shuts open connections down and joins every handler thread, so no
thread or socket outlives the server.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self

log = logging.getLogger(__name__)

Api = Literal["openai", "anthropic"]
STRUCTURED_TOOL = "StructuredOutput"
DEFAULT_ANSWER = '{"findings": []}'
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "proxy-authorization", "cookie"})


# --------------------------------------------------------------------------- script values


@dataclass(frozen=True)
class Usage:
    """Token counts reported for one reply (OpenAI and Anthropic names are derived)."""

    input_tokens: int = 100
    output_tokens: int = 20
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class ToolCall:
    """One tool call the fake model makes: OpenAI ``tool_calls[]`` / Anthropic ``tool_use``."""

    name: str
    args: Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """One scripted model turn. Build it with the class-method constructors.

    Every constructor accepts the timing and failure modifiers:
    ``delay`` (seconds before the first byte), ``chunk_delay`` (seconds
    between streamed events), ``drop_after`` (cut the connection after that
    many streamed events; a non-streaming request gets no response at all),
    ``usage`` (token counts), ``chunks`` (how many deltas the text is split
    into when streamed) and ``stop="length"`` (report a truncated answer).
    Stalls end early when the server stops.
    """

    kind: Literal["message", "structured", "error"] = "message"
    content: str = ""
    calls: tuple[ToolCall, ...] = ()
    payload: Any = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    stop: Literal["stop", "length"] = "stop"
    delay: float = 0.0
    chunk_delay: float = 0.0
    drop_after: int | None = None
    chunks: int = 3
    usage: Usage | None = None

    @classmethod
    def text(cls, content: str, **modifiers: Any) -> Reply:
        """Answer with ``content`` as assistant text."""
        return cls(kind="message", content=content, **modifiers)

    @classmethod
    def tool_call(
        cls,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        id: str | None = None,
        text: str = "",
        **modifiers: Any,
    ) -> Reply:
        """Call one tool, optionally after some text (``finish_reason: tool_calls``)."""
        call = ToolCall(name, dict(args or {}), id)
        return cls(kind="message", content=text, calls=(call,), **modifiers)

    @classmethod
    def tool_calls(cls, calls: Sequence[ToolCall], *, text: str = "", **modifiers: Any) -> Reply:
        """Call several tools in one turn."""
        return cls(kind="message", content=text, calls=tuple(calls), **modifiers)

    @classmethod
    def structured(cls, obj: Any, **modifiers: Any) -> Reply:
        """Call the ``StructuredOutput`` tool with ``obj`` when offered, else answer JSON text."""
        return cls(kind="structured", payload=obj, **modifiers)

    @classmethod
    def error(
        cls,
        status: int,
        body: Any = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        **modifiers: Any,
    ) -> Reply:
        """Fail with an HTTP status; ``body`` defaults to the API's own error envelope."""
        hdrs = dict(headers or {})
        if retry_after is not None:
            hdrs["retry-after"] = f"{retry_after:g}"
        return cls(
            kind="error", status=status, payload=body, headers=tuple(hdrs.items()), **modifiers
        )

    @classmethod
    def stall(cls, seconds: float, then: Reply | None = None) -> Reply:
        """Wait ``seconds`` before answering with ``then`` (default: a short text)."""
        return replace(then or cls.text("stalled reply"), delay=seconds)

    @classmethod
    def drop(cls, after_chunks: int, then: Reply | None = None) -> Reply:
        """Cut the connection after ``after_chunks`` streamed events of ``then``."""
        return replace(then or cls.text("this answer never finishes " * 4), drop_after=after_chunks)


@dataclass
class Rule:
    """When a request matches, answer with the next :class:`Reply` of ``replies``.

    ``match`` is a substring (``str``) or a compiled regex searched in the
    request text; ``when`` an extra predicate; ``api`` limits the rule to one
    wire protocol; ``nth`` makes the rule apply only to its N-th matching
    request (1-based); ``times`` to its first N. ``step`` chooses how the
    reply is picked: see the module docstring.
    """

    match: str | re.Pattern[str] | None
    replies: Sequence[Reply] | Reply
    when: Callable[[RecordedRequest], bool] | None = None
    api: Api | None = None
    nth: int | None = None
    times: int | None = None
    step: Literal["turn", "call"] = "turn"
    name: str | None = None
    matched: int = field(default=0, init=False)
    used: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if isinstance(self.replies, Reply):
            self.replies = (self.replies,)
        if not self.replies:
            raise ValueError("a Rule needs at least one Reply")
        if self.name is None:
            if isinstance(self.match, re.Pattern):
                self.name = f"re:{self.match.pattern}"
            else:
                self.name = self.match or "<any>"

    def _wants(self, req: RecordedRequest) -> bool:
        if self.api is not None and req.api != self.api:
            return False
        if isinstance(self.match, str) and self.match not in req.text:
            return False
        if isinstance(self.match, re.Pattern) and not self.match.search(req.text):
            return False
        return self.when is None or self.when(req)


@dataclass
class RecordedRequest:
    """One request as the fake saw it; auth headers are removed."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    api: Api | None
    known: bool
    text: str = ""
    step: int = 0
    rule: str | None = None
    reply_kind: str | None = None
    side_call: bool = False
    time: float = field(default_factory=time.monotonic)

    @property
    def conversation(self) -> str | None:
        """The client's session id, when it sends one (OpenCode and Claude Code do)."""
        for name in _CONVERSATION_HEADERS:
            if name in self.headers:
                return self.headers[name]
        return None

    @property
    def system(self) -> str:
        return system_text(self)

    @property
    def streaming(self) -> bool:
        return isinstance(self.body, dict) and bool(self.body.get("stream"))

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools the client offered the model."""
        tools = self.body.get("tools") if isinstance(self.body, dict) else None
        names: list[str] = []
        for tool in tools or []:
            name = tool.get("function", {}).get("name") if "function" in tool else tool.get("name")
            if isinstance(name, str):
                names.append(name)
        return names

    @property
    def tool_results(self) -> list[str]:
        """Text of every tool result in the conversation so far (both APIs)."""
        return list(_tool_results(self.body, self.api))

    @property
    def model(self) -> str:
        return str(self.body.get("model", "")) if isinstance(self.body, dict) else ""


# --------------------------------------------------------------------------- request text


def _content_text(content: Any) -> Iterator[str]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            if isinstance(block.get("text"), str):
                yield block["text"]
            elif block.get("type") == "tool_result":
                yield from _content_text(block.get("content"))


def _tool_results(body: Any, api: Api | None) -> Iterator[str]:
    if not isinstance(body, dict):
        return
    for msg in body.get("messages") or []:
        if not isinstance(msg, dict):
            continue
        if api == "openai" and msg.get("role") == "tool":
            yield "\n".join(_content_text(msg.get("content")))
        elif api == "anthropic" and isinstance(msg.get("content"), list):
            for block in msg["content"]:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    yield "\n".join(_content_text(block.get("content")))


def request_text(body: Any) -> str:
    """System prompt + every message's text + tool results, joined by newlines."""
    if not isinstance(body, dict):
        return ""
    parts = list(_content_text(body.get("system")))
    for msg in body.get("messages") or []:
        if isinstance(msg, dict):
            parts.extend(_content_text(msg.get("content")))
    return "\n".join(parts)


def _assistant_turns(body: Any) -> int:
    if not isinstance(body, dict):
        return 0
    return sum(
        1
        for m in body.get("messages") or []
        if isinstance(m, dict) and m.get("role") == "assistant"
    )


#: Headers that carry the client's conversation id: OpenCode, Claude Code.
_CONVERSATION_HEADERS = ("x-session-id", "x-claude-code-session-id")

#: System-prompt openings of a runtime's housekeeping calls (not the reviewer's conversation).
SIDE_CALL_MARKERS = (
    "You are a title generator",  # OpenCode: session title on small_model, when none was given
)


def system_text(req: RecordedRequest) -> str:
    """The request's system prompt: Anthropic's ``system``, or OpenAI's leading system messages."""
    if not isinstance(req.body, dict):
        return ""
    if req.body.get("system") is not None:
        return "\n".join(_content_text(req.body["system"]))
    parts: list[str] = []
    for message in req.body.get("messages") or []:
        if not isinstance(message, dict) or message.get("role") != "system":
            break
        parts.extend(_content_text(message.get("content")))
    return "\n".join(parts)


def is_side_call(req: RecordedRequest) -> bool:
    """A runtime's own housekeeping call, answered by the default reply, never by a rule."""
    text = system_text(req)
    return any(marker in text for marker in SIDE_CALL_MARKERS)


# --------------------------------------------------------------------------- the server


class _Aborted(Exception):
    """The server is stopping, or the script asked to cut the connection."""


class ScriptedModelServer:
    """A scripted OpenAI/Anthropic-compatible model server on ``127.0.0.1``.

    ``with ScriptedModelServer([Rule(...)]) as srv:`` starts it on a free
    port; ``srv.base_url`` is ``http://127.0.0.1:PORT`` (OpenAI clients want
    ``srv.base_url + "/v1"``, Anthropic clients the bare URL).
    """

    def __init__(
        self,
        rules: Sequence[Rule] = (),
        *,
        default: Reply | None = None,
        usage: Usage | None = None,
        models: Sequence[str] = ("m",),
        structured_tool: str = STRUCTURED_TOOL,
        side_call: Callable[[RecordedRequest], bool] | None = is_side_call,
    ) -> None:
        self._lock = threading.Lock()
        self.side_call = side_call
        self._rules: list[Rule] = list(rules)
        self.default = default or Reply.text(DEFAULT_ANSWER)
        self.usage = usage or Usage()
        self.models = tuple(models)
        self.structured_tool = structured_tool
        self._requests: list[RecordedRequest] = []
        self._ids = itertools.count(1)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("server already started")
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-model-server"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._stopping.set()
        httpd.shutdown()
        thread.join()
        with self._lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()  # joins the handler threads (block_on_close)
        self._httpd = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    # ---- scripting and assertions

    def set_rules(self, rules: Sequence[Rule], *, default: Reply | None = None) -> None:
        """Replace the script (and optionally the default reply); rule counters restart."""
        for rule in rules:
            rule.matched = rule.used = 0
        with self._lock:
            self._rules = list(rules)
            if default is not None:
                self.default = default

    def add_rule(self, rule: Rule) -> None:
        """Append a rule (lowest priority)."""
        with self._lock:
            self._rules.append(rule)

    def reset(self, rules: Sequence[Rule] = (), *, default: Reply | None = None) -> None:
        """Forget recorded requests and install a new script (default reply back to findings [])."""
        self.set_rules(rules, default=default or Reply.text(DEFAULT_ANSWER))
        with self._lock:
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def model_requests(self) -> list[RecordedRequest]:
        """Requests for a model turn (chat completions / messages)."""
        return [r for r in self.requests if r.path in _MODEL_PATHS]

    @property
    def unknown_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if not r.known]

    def requests_matching(self, needle: str | re.Pattern[str]) -> list[RecordedRequest]:
        """Model requests whose text contains ``needle`` (substring or regex)."""
        if isinstance(needle, str):
            return [r for r in self.model_requests if needle in r.text]
        return [r for r in self.model_requests if needle.search(r.text)]

    def wait_for_requests(self, count: int, *, timeout: float = 10.0) -> list[RecordedRequest]:
        """Block until at least ``count`` model requests arrived (for stalled-reply tests)."""
        deadline = time.monotonic() + timeout
        while len(reqs := self.model_requests) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} model requests, got {len(reqs)}")
            time.sleep(0.01)
        return reqs

    # ---- called by handler threads

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _pick(self, req: RecordedRequest) -> Reply:
        turn = _assistant_turns(req.body)
        req.side_call = self.side_call is not None and self.side_call(req)
        with self._lock:
            for rule in [] if req.side_call else self._rules:
                if rule.times is not None and rule.used >= rule.times:
                    continue
                if not rule._wants(req):
                    continue
                rule.matched += 1
                if rule.nth is not None and rule.matched != rule.nth:
                    continue
                rule.used += 1
                index = turn if rule.step == "turn" else rule.used - 1
                replies = rule.replies
                assert isinstance(replies, Sequence)
                req.rule, req.step = rule.name, index
                reply: Reply = replies[min(index, len(replies) - 1)]
                break
            else:
                req.rule, req.step, reply = None, turn, self.default
            req.reply_kind = reply.kind
            self._requests.append(req)
        return reply

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._stopping.wait(seconds):
            raise _Aborted


_MODEL_PATHS = frozenset({"/v1/chat/completions", "/chat/completions", "/v1/messages"})


class _HTTPServer(ThreadingHTTPServer):
    owner: ScriptedModelServer
    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fake model server: connection error from %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer
    timeout = 120  # idle keep-alive connections end eventually even without stop()

    def setup(self) -> None:
        super().setup()
        owner = self.server.owner
        with owner._lock:
            owner._connections.add(self.connection)
            if owner._stopping.is_set():  # accepted while stop() was collecting connections
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

    def finish(self) -> None:
        with self.server.owner._lock:
            self.server.owner._connections.discard(self.connection)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake model server: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    # ---- plumbing

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(data)
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _dispatch(self) -> None:
        owner = self.server.owner
        raw = self._read_body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        path = self.path.split("?", 1)[0]
        if path.startswith("/v1/v1/"):  # a client that appended /v1 to a base URL ending in /v1
            path = path[3:]
        headers = {
            k.lower(): v for k, v in self.headers.items() if k.lower() not in _SECRET_HEADERS
        }
        is_anthropic = "anthropic-version" in headers or path.startswith("/v1/messages")
        api: Api | None = "anthropic" if is_anthropic else "openai"
        req = RecordedRequest(self.command, path, headers, body, api, known=True)
        req.text = request_text(body)
        try:
            if self.command == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
                req.api = "openai"
                self._answer_model(req, _OpenAIWriter(owner, req))
            elif self.command == "POST" and path == "/v1/messages":
                req.api = "anthropic"
                self._answer_model(req, _AnthropicWriter(owner, req))
            elif self.command == "POST" and path == "/v1/messages/count_tokens":
                owner._record(req)
                self._send_json(200, {"input_tokens": max(1, len(req.text) // 4)})
            elif self.command == "GET" and path in ("/v1/models", "/models"):
                owner._record(req)
                self._send_json(200, _models_body(owner.models))
            elif self.command == "HEAD" or (self.command == "GET" and path in ("/", "/health")):
                owner._record(req)
                self._send_json(200, {"ok": True})
            else:
                req.known = False
                owner._record(req)
                log.warning("fake model server: unknown route %s %s", self.command, self.path)
                self._send_json(404, _error_body(req.api, 404, f"no route {self.command} {path}"))
        except (_Aborted, OSError):
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def _send_json(
        self, status: int, payload: Any, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _answer_model(self, req: RecordedRequest, writer: _Writer) -> None:
        owner = self.server.owner
        reply = owner._pick(req)
        if reply.kind == "structured":
            if owner.structured_tool in req.tool_names:
                reply = replace(
                    reply, kind="message", calls=(ToolCall(owner.structured_tool, reply.payload),)
                )
            else:
                reply = replace(reply, kind="message", content=json.dumps(reply.payload))
        owner._sleep(reply.delay)
        if reply.kind == "error":
            body = (
                reply.payload if reply.payload is not None else _error_body(req.api, reply.status)
            )
            self._send_json(reply.status, body, reply.headers)
            return
        if reply.drop_after is not None and not req.streaming:
            raise _Aborted
        if req.streaming:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("cache-control", "no-cache")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            for sent, event in enumerate(writer.events(reply)):
                if reply.drop_after is not None and sent >= reply.drop_after:
                    raise _Aborted
                if sent:
                    owner._sleep(reply.chunk_delay)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self._send_json(200, writer.complete(reply))


def _models_body(models: Sequence[str]) -> dict[str, Any]:
    """A model list readable by both OpenAI and Anthropic clients."""
    data = [
        {
            "id": m,
            "object": "model",
            "type": "model",
            "created": 0,
            "created_at": "2025-01-01T00:00:00Z",
            "owned_by": "fake",
            "display_name": m,
        }
        for m in models
    ]
    return {
        "object": "list",
        "data": data,
        "has_more": False,
        "first_id": models[0] if models else None,
        "last_id": models[-1] if models else None,
    }


_ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def _error_body(api: Api | None, status: int, message: str | None = None) -> dict[str, Any]:
    message = message or f"fake {status} error"
    if api == "anthropic":
        kind = _ANTHROPIC_ERROR_TYPES.get(status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": "fake_error", "code": status}}


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    pieces = max(1, min(pieces, len(text)))
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


# --------------------------------------------------------------------------- wire formats


class _Writer:
    def __init__(self, owner: ScriptedModelServer, req: RecordedRequest) -> None:
        self.owner = owner
        self.req = req
        self.model = req.model or (owner.models[0] if owner.models else "m")

    def usage(self, reply: Reply) -> Usage:
        return reply.usage or self.owner.usage

    def call_ids(self, reply: Reply, prefix: str) -> list[str]:
        return [c.id or self.owner._next_id(prefix) for c in reply.calls]

    def events(self, reply: Reply) -> Iterator[bytes]:
        raise NotImplementedError

    def complete(self, reply: Reply) -> dict[str, Any]:
        raise NotImplementedError


class _OpenAIWriter(_Writer):
    def _finish(self, reply: Reply) -> str:
        if reply.calls:
            return "tool_calls"
        return "length" if reply.stop == "length" else "stop"

    def _usage(self, reply: Reply) -> dict[str, Any]:
        u = self.usage(reply)
        return {
            "prompt_tokens": u.input_tokens,
            "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
        }

    def complete(self, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
        if reply.calls:
            message["tool_calls"] = [
                {
                    "id": cid,
                    "type": "function",
                    "function": {"name": c.name, "arguments": json.dumps(c.args)},
                }
                for c, cid in zip(reply.calls, self.call_ids(reply, "call_"), strict=True)
            ]
        return {
            "id": self.owner._next_id("chatcmpl-"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": self._finish(reply),
                    "logprobs": None,
                }
            ],
            "usage": self._usage(reply),
        }

    def events(self, reply: Reply) -> Iterator[bytes]:
        cid, created = self.owner._next_id("chatcmpl-"), int(time.time())

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return b"data: " + json.dumps(payload).encode() + b"\n\n"

        yield chunk({"role": "assistant", "content": ""})
        for piece in _split(reply.content, reply.chunks):
            yield chunk({"content": piece})
        for index, (call, call_id) in enumerate(
            zip(reply.calls, self.call_ids(reply, "call_"), strict=True)
        ):
            head = {"index": index, "id": call_id, "type": "function"}
            yield chunk(
                {"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]}
            )
            for piece in _split(json.dumps(call.args), 2):
                yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        yield chunk({}, self._finish(reply))
        options = self.req.body.get("stream_options") if isinstance(self.req.body, dict) else None
        if isinstance(options, dict) and options.get("include_usage"):
            payload = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model,
                "choices": [],
                "usage": self._usage(reply),
            }
            yield b"data: " + json.dumps(payload).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"


class _AnthropicWriter(_Writer):
    def _stop_reason(self, reply: Reply) -> str:
        if reply.calls:
            return "tool_use"
        return "max_tokens" if reply.stop == "length" else "end_turn"

    def _usage(self, reply: Reply, *, output: bool = True) -> dict[str, Any]:
        u = self.usage(reply)
        return {
            "input_tokens": u.input_tokens - u.cached_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": u.cached_tokens,
            "output_tokens": u.output_tokens if output else 1,
        }

    def _blocks(self, reply: Reply) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = []
        if reply.content:
            blocks.append({"type": "text", "text": reply.content})
        for call, call_id in zip(reply.calls, self.call_ids(reply, "toolu_"), strict=True):
            blocks.append(
                {"type": "tool_use", "id": call_id, "name": call.name, "input": dict(call.args)}
            )
        return blocks

    def complete(self, reply: Reply) -> dict[str, Any]:
        return {
            "id": self.owner._next_id("msg_fake_"),
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self._blocks(reply),
            "stop_reason": self._stop_reason(reply),
            "stop_sequence": None,
            "usage": self._usage(reply),
        }

    def events(self, reply: Reply) -> Iterator[bytes]:
        def event(name: str, payload: dict[str, Any]) -> bytes:
            return f"event: {name}\ndata: {json.dumps(payload)}\n\n".encode()

        message = {**self.complete(reply), "content": [], "stop_reason": None}
        message["usage"] = self._usage(reply, output=False)
        yield event("message_start", {"type": "message_start", "message": message})
        yield event("ping", {"type": "ping"})
        for index, block in enumerate(self._blocks(reply)):
            if block["type"] == "text":
                start = {"type": "text", "text": ""}
                deltas = [
                    {"type": "text_delta", "text": p} for p in _split(block["text"], reply.chunks)
                ]
            else:
                start = {**block, "input": {}}
                deltas = [
                    {"type": "input_json_delta", "partial_json": p}
                    for p in _split(json.dumps(block["input"]), 2)
                ]
            yield event(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": start},
            )
            for delta in deltas:
                yield event(
                    "content_block_delta",
                    {"type": "content_block_delta", "index": index, "delta": delta},
                )
            yield event("content_block_stop", {"type": "content_block_stop", "index": index})
        yield event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self._stop_reason(reply), "stop_sequence": None},
                "usage": {"output_tokens": self.usage(reply).output_tokens},
            },
        )
        yield event("message_stop", {"type": "message_stop"})
