"""The OpenCode runtime: reviewer sessions on an ``opencode serve`` server over HTTP.

By default council spawns a private server, injecting its reviewers as OpenCode
agents (``council-<name>``) through ``OPENCODE_CONFIG_CONTENT``. With
``--opencode-url`` it uses a running server: agents named ``council-<name>`` there
are used as they are; otherwise the session runs as OpenCode's ``general`` agent
with the reviewer prompt appended as system text and the reviewer's permissions
applied as session rules. Either way council's review instructions (how to read the
diff, the output contract) go in each request's ``system``: they are the same for
every session of a reviewer, a prefix the provider can cache. Server behaviour this
relies on is in shared/opencode/API.md (completion = ``session.idle`` of that id;
errors arrive as HTTP 200 with ``info.error`` or only as ``session.error`` events;
totals come from the session, not the last step).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import httpx

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
from coordinator.runtimes.opencode_events import EventHub, StreamLost
from coordinator.runtimes.opencode_server import (
    SpawnedServer,
    find_opencode,
    spawn_server,
    stop_server,
)

AGENT_PREFIX = "council-"
FALLBACK_AGENT = "general"

# Safe defaults for a server nobody watches: anything left at "ask" hangs forever.
HEADLESS_PERMISSION: dict[str, Any] = {
    "question": "deny",
    "doom_loop": "deny",
    "external_directory": "deny",
    "edit": "deny",
    "bash": "deny",
    "webfetch": "deny",
    "read": {"*": "allow", "*.env": "deny", "*.env.*": "deny", "*.env.example": "allow"},
}

# Tool input keys that name what a tool call is about, for progress lines.
_TARGET_KEYS = ("filePath", "path", "pattern", "command", "url", "description")


def opencode_agent_config(agent: AgentSpec) -> dict[str, Any]:
    config: dict[str, Any] = dict(agent.runtime_options)
    config.setdefault("mode", "all")
    config.update(
        {"description": agent.description, "prompt": agent.prompt, "permission": agent.permission}
    )
    if agent.temperature is not None:
        config["temperature"] = agent.temperature
    if agent.model:
        config["model"] = agent.model
    return config


def server_config(agents: Sequence[AgentSpec]) -> dict[str, Any]:
    return {
        "permission": HEADLESS_PERMISSION,
        "agent": {AGENT_PREFIX + a.name: opencode_agent_config(a) for a in agents},
    }


def session_permission_rules(agent: AgentSpec) -> list[dict[str, str]]:
    """The agent's permissions as session rules, last match wins; ``ask`` becomes ``deny``."""
    rules: list[dict[str, str]] = [{"permission": "*", "pattern": "*", "action": "deny"}]
    for tool, rule in agent.permission.items():
        patterns = rule.items() if isinstance(rule, Mapping) else [("*", rule)]
        for pattern, action in patterns:
            action = "deny" if action not in ("allow", "deny") else action
            rules.append({"permission": tool, "pattern": str(pattern), "action": str(action)})
    return rules


def split_model(model: str) -> dict[str, str]:
    provider, _, model_id = model.partition("/")
    if not provider or not model_id:
        raise SessionError(f"model '{model}' is not in provider/model form")
    return {"providerID": provider, "modelID": model_id}


def _usage_from(info: Mapping[str, Any]) -> Usage:
    tokens = info.get("tokens") or {}
    cache = tokens.get("cache") or {}
    return Usage(
        tokens_in=int(tokens.get("input", 0))
        + int(cache.get("read", 0))
        + int(cache.get("write", 0)),
        tokens_out=int(tokens.get("output", 0)) + int(tokens.get("reasoning", 0)),
        cost_usd=float(info.get("cost", 0.0) or 0.0),
    )


def readable_error(error: Mapping[str, Any]) -> str:
    name = str(error.get("name", "Error"))
    data = error.get("data") or {}
    message = data.get("message") if isinstance(data, Mapping) else None
    status = data.get("statusCode") if isinstance(data, Mapping) else None
    text = f"{name}: {message}" if message else name
    return f"{text} (HTTP {status})" if status else text


def _is_retryable(error: Mapping[str, Any]) -> bool:
    data = error.get("data") or {}
    return bool(isinstance(data, Mapping) and data.get("isRetryable"))


class OpenCodeRuntime:
    name = "opencode"

    def __init__(
        self,
        *,
        workdir: Path,
        agents: Sequence[AgentSpec],
        url: str | None = None,
        password: str | None = None,
        binary: str | None = None,
        env: Mapping[str, str] | None = None,
        structured_output: bool | None = None,
        startup_timeout: float = 45.0,
        project_config: bool = True,
    ) -> None:
        self._workdir = workdir.resolve()
        self._agents = list(agents)
        self._url = url
        self._password = password
        self._binary = binary
        self._env = env
        self._structured_pref = structured_output
        self._startup_timeout = startup_timeout
        self._project_config = project_config
        self._stack: AsyncExitStack | None = None
        self._client: httpx.AsyncClient | None = None
        self._hub: EventHub | None = None
        self._server: SpawnedServer | None = None
        self._server_agents: set[str] = set()
        self._default_model: str | None = None
        self._toolcall_models: dict[str, bool] = {}

    @property
    def directory(self) -> str:
        return str(self._workdir)

    @property
    def server_pid(self) -> int | None:
        return self._server.process.pid if self._server else None

    async def __aenter__(self) -> Self:
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            task_group = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(task_group.cancel_scope.cancel)
            if self._url is None:
                binary = find_opencode(self._binary)
                env = dict(os.environ if self._env is None else self._env)
                if not self._project_config:
                    # The reviewed branch's opencode.json, .opencode/ and CLAUDE.md must not
                    # configure the server that reviews it.
                    env["OPENCODE_DISABLE_PROJECT_CONFIG"] = "1"
                    env["OPENCODE_DISABLE_CLAUDE_CODE"] = "1"
                self._server = await spawn_server(
                    task_group,
                    binary=binary,
                    workdir=self._workdir,
                    config=server_config(self._agents),
                    env=env,
                    startup_timeout=self._startup_timeout,
                )
                stack.push_async_callback(stop_server, self._server)
                url, password = self._server.url, self._server.password
            else:
                url, password = self._url, self._password or ""
            auth = httpx.BasicAuth("opencode", password) if password else None
            self._client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, auth=auth, timeout=httpx.Timeout(30.0))
            )
            await self._probe()
            self._hub = EventHub(self._client, self.directory)
            task_group.start_soon(self._hub.run)
            try:
                with anyio.fail_after(self._startup_timeout):
                    await self._hub.wait_connected()
            except TimeoutError:
                raise RuntimeUnavailable(f"OpenCode at {url} sent no events") from None
            if self._hub.failure:
                raise RuntimeUnavailable(self._hub.failure)
        except BaseException:
            await stack.__aexit__(None, None, None)
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._stack is not None:
            # Not inside a shielded scope: the stack holds a task group entered outside it.
            # Stopping the server shields itself.
            stack, self._stack = self._stack, None
            await stack.__aexit__(None, None, None)

    async def _probe(self) -> None:
        """Check the server answers, and learn its agents, default model and model capabilities."""
        client = self._require_client()
        params = {"directory": self.directory}
        try:
            health = await client.get("/global/health")
            if health.status_code == 401:
                raise RuntimeUnavailable(
                    "OpenCode rejected the credentials: set OPENCODE_SERVER_PASSWORD"
                    " to the server's password"
                )
            health.raise_for_status()
            agents = (await client.get("/agent", params=params)).json()
            config = (await client.get("/config", params=params)).json()
            providers = (await client.get("/config/providers", params=params)).json()
        except httpx.HTTPError as exc:
            raise RuntimeUnavailable(f"cannot reach OpenCode at {client.base_url}: {exc}") from exc
        self._server_agents = {a.get("name", "") for a in agents if isinstance(a, dict)}
        self._default_model = config.get("model") if isinstance(config, dict) else None
        for provider in providers.get("providers", []) if isinstance(providers, dict) else []:
            for model_id, model in (provider.get("models") or {}).items():
                caps = model.get("capabilities") or {}
                self._toolcall_models[f"{provider.get('id')}/{model_id}"] = bool(
                    caps.get("toolcall")
                )

    def default_model(self) -> str | None:
        return self._default_model

    def _require_client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("OpenCodeRuntime used outside 'async with'")
        return self._client

    def _use_structured(self, model: str) -> bool:
        if self._structured_pref is not None:
            return self._structured_pref
        return self._toolcall_models.get(model, False)

    @asynccontextmanager
    async def open_session(
        self, spec: SessionSpec, emit: EventSink
    ) -> AsyncIterator[OpenCodeSession]:
        client = self._require_client()
        assert self._hub is not None
        model = spec.model or spec.agent.model or self._default_model
        if not model:
            raise SessionError(
                "no model: pass --model provider/model, set 'model' in the agent, "
                "or set a default model in your OpenCode config"
            )
        agent_name = AGENT_PREFIX + spec.agent.name
        body: dict[str, Any] = {"title": spec.title}
        fallback = agent_name not in self._server_agents
        if fallback:
            body["permission"] = session_permission_rules(spec.agent)
        response = await _post(client, "/session", self.directory, body)
        session_id = str(response.json()["id"])
        session = OpenCodeSession(
            client=client,
            hub=self._hub,
            directory=self.directory,
            session_id=session_id,
            spec=spec,
            emit=emit,
            agent=FALLBACK_AGENT if fallback else agent_name,
            # The server's own agent carries the reviewer prompt; the request adds the
            # instructions, which OpenCode appends after its env block, the same each time.
            system=spec.system_prompt if fallback else spec.instructions or None,
            model=model,
            output_schema=spec.output_schema if self._use_structured(model) else None,
            server=self._server,
        )
        emit(SessionStarted(spec.key, spec.agent.name, session_id))
        try:
            yield session
        finally:
            if session.busy:
                await session.abort()


async def _post(
    client: httpx.AsyncClient, path: str, directory: str, body: Mapping[str, Any]
) -> httpx.Response:
    try:
        response = await client.post(path, params={"directory": directory}, json=body)
    except httpx.TransportError as exc:
        raise RetryableSessionError(f"OpenCode request {path} failed: {exc!r}") from exc
    if response.status_code >= 400:
        raise SessionError(
            f"OpenCode {path} answered HTTP {response.status_code}: {response.text[:300]}"
        )
    return response


class OpenCodeSession:
    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        hub: EventHub,
        directory: str,
        session_id: str,
        spec: SessionSpec,
        emit: EventSink,
        agent: str,
        system: str | None,
        model: str,
        output_schema: dict[str, Any] | None,
        server: SpawnedServer | None,
    ) -> None:
        self._client = client
        self._hub = hub
        self._directory = directory
        self.session_id = session_id
        self._spec = spec
        self._emit = emit
        self._agent = agent
        self._system = system
        self._model = model
        self._schema = output_schema
        self._server = server
        self.busy = False
        self._tool_states: dict[str, str] = {}
        self._tool_calls: dict[str, ToolCall] = {}
        self._text_parts: set[str] = set()
        self._assistant_ids: set[str] = set()

    async def abort(self) -> None:
        """Stop the run on the server; a client disconnect alone would leave it busy."""
        with (
            anyio.CancelScope(shield=True),
            anyio.move_on_after(5),
            suppress(httpx.HTTPError),
        ):
            await self._client.post(
                f"/session/{self.session_id}/abort", params={"directory": self._directory}
            )
        self.busy = False

    async def prompt(self, text: str) -> TurnResult:
        body: dict[str, Any] = {
            "parts": [{"type": "text", "text": text}],
            "agent": self._agent,
            "model": split_model(self._model),
        }
        if self._system:
            body["system"] = self._system
        if self._schema is not None:
            body["format"] = {"type": "json_schema", "schema": self._schema}
        self._assistant_ids = set()  # this turn's answer only
        async with self._hub.subscribe(self.session_id) as events:
            self.busy = True
            response = await _post(
                self._client, f"/session/{self.session_id}/prompt_async", self._directory, body
            )
            if response.status_code != 204:
                raise SessionError(f"prompt_async answered HTTP {response.status_code}")
            error = await self._follow(events)
        self.busy = False
        return await self._collect(error)

    async def _follow(self, events: Any) -> dict[str, Any] | None:
        """Relay events until this session is idle; return its session.error, if any."""
        error: dict[str, Any] | None = None
        while True:
            # Heartbeats come every 10 s; silence means the stream is stuck, so ask directly.
            with anyio.move_on_after(30) as scope:
                event = await events.receive()
            if scope.cancelled_caught:
                if await self._is_idle():
                    return error
                continue
            if isinstance(event, StreamLost):
                reason = event.reason
                if self._server is not None and self._server.exited:
                    reason = self._server.describe_exit()
                raise RetryableSessionError(f"OpenCode server lost: {reason}")
            kind = event.get("type")
            props = event.get("properties") or {}
            if kind == "session.idle":
                return error
            if kind == "session.error":
                error = props.get("error") or {"name": "UnknownError"}
            elif kind == "message.updated":
                info = props.get("info") or {}
                if info.get("role") == "assistant" and info.get("id"):
                    self._assistant_ids.add(str(info["id"]))
            elif kind == "message.part.updated":
                self._on_part(props.get("part") or {})
            elif kind == "message.part.delta":
                if props.get("partID") in self._text_parts and props.get("delta"):
                    self._emit(TextDelta(self._spec.key, self._spec.agent.name, props["delta"]))
            elif kind == "session.status":
                status = props.get("status") or {}
                if status.get("type") == "retry":
                    delay = max(0.0, (float(status.get("next", 0)) / 1000) - time.time())
                    self._emit(
                        SessionRetrying(
                            self._spec.key,
                            self._spec.agent.name,
                            int(status.get("attempt", 0)),
                            str(status.get("message", "")),
                            delay,
                        )
                    )
            elif kind == "session.updated":
                self._emit(
                    UsageUpdated(
                        self._spec.key, self._spec.agent.name, _usage_from(props.get("info") or {})
                    )
                )
            elif kind in ("permission.asked", "question.asked"):
                await self._refuse(kind, props)

    async def _is_idle(self) -> bool:
        try:
            response = await self._client.get(
                "/session/status", params={"directory": self._directory}
            )
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and self.session_id not in response.json()

    async def _refuse(self, kind: str, props: Mapping[str, Any]) -> None:
        """A permission or question left at 'ask' would hang the session forever."""
        request_id = props.get("id")
        if not request_id:
            return
        if kind == "permission.asked":
            path = f"/permission/{request_id}/reply"
            body: dict[str, Any] = {
                "reply": "reject",
                "message": "council runs reviewers headless and read-only; this was denied.",
            }
        else:
            path, body = f"/question/{request_id}/reject", {}
        with suppress(httpx.HTTPError):
            await self._client.post(path, params={"directory": self._directory}, json=body)

    def _on_part(self, part: Mapping[str, Any]) -> None:
        part_type = part.get("type")
        part_id = str(part.get("id", ""))
        if part_type == "text" and not part.get("synthetic"):
            self._text_parts.add(part_id)
        if part_type != "tool":
            return
        state = part.get("state") or {}
        status = str(state.get("status", ""))
        if self._tool_states.get(part_id) == status:
            return
        self._tool_states[part_id] = status
        tool = str(part.get("tool", ""))
        inputs = state.get("input") or {}
        target = next((str(inputs[k]) for k in _TARGET_KEYS if inputs.get(k)), "")
        call = ToolCall(tool=tool, target=target, status=status)
        self._tool_calls[part_id] = call
        self._emit(
            ToolCalled(
                self._spec.key,
                self._spec.agent.name,
                tool,
                target,
                status,
                str(part.get("callID", "")),
            )
        )

    async def _last_assistant_message(self) -> dict[str, Any] | None:
        """The final assistant message of this turn, with its parts.

        Fetched by id, learnt from ``message.updated`` events: in 1.18.33 the list
        route ``GET /session/{id}/message`` answers 400 once a prompt carried
        ``format`` (it fails to re-validate the stored user message). The list is
        only the fallback for a turn whose events were lost.
        """
        params = {"directory": self._directory}
        try:
            if self._assistant_ids:
                last_id = max(self._assistant_ids)  # OpenCode ids sort by creation time
                got = await self._client.get(
                    f"/session/{self.session_id}/message/{last_id}", params=params
                )
                if got.status_code == 200:
                    message: dict[str, Any] = got.json()
                    return message
            listed = await self._client.get(f"/session/{self.session_id}/message", params=params)
        except httpx.HTTPError as exc:
            raise RetryableSessionError(f"cannot read the session's result: {exc!r}") from exc
        messages = listed.json()
        if listed.status_code != 200 or not isinstance(messages, list):
            raise SessionError(
                f"cannot read the session's messages: HTTP {listed.status_code} {listed.text[:300]}"
            )
        assistant = [m for m in messages if (m.get("info") or {}).get("role") == "assistant"]
        return assistant[-1] if assistant else None

    async def _collect(self, event_error: dict[str, Any] | None) -> TurnResult:
        last = await self._last_assistant_message()
        try:
            got = await self._client.get(
                f"/session/{self.session_id}", params={"directory": self._directory}
            )
        except httpx.HTTPError as exc:
            raise RetryableSessionError(f"cannot read the session's totals: {exc!r}") from exc
        usage = _usage_from(got.json() if got.status_code == 200 else {})
        text = ""
        structured = None
        if last is not None:
            last_info = last.get("info") or {}
            text = "".join(
                p.get("text", "")
                for p in last.get("parts") or []
                if p.get("type") == "text" and not p.get("synthetic")
            )
            structured = last_info.get("structured")
            error = last_info.get("error")
            # The model answered in text instead of the StructuredOutput tool: parse the text.
            if error and error.get("name") != "StructuredOutputError":
                raise self._error(error, text)
        elif event_error is not None:
            raise self._error(event_error, "")
        if last is None:
            raise SessionError("the session ended without an answer")
        return TurnResult(
            text=text,
            structured=structured if isinstance(structured, dict) else None,
            usage=usage,
            tool_calls=list(self._tool_calls.values()),
            session_id=self.session_id,
            model=self._model,
        )

    def _error(self, error: Mapping[str, Any], text: str) -> SessionError:
        # OpenCode has already retried a retryable provider error (five times, with
        # backoff) before reporting it; retrying the session again would only multiply that.
        message = readable_error(error)
        if _is_retryable(error):
            message += " (after OpenCode's own retries)"
        return SessionError(message, raw_text=text or None)
