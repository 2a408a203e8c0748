"""Helpers for the TUI tests: a real git repository with a change, its prepared review,
and an in-process runtime whose sessions the test opens one by one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import anyio

from coordinator.config import ReviewSettings
from coordinator.diff.sources import DiffRequest
from coordinator.errors import SessionError
from coordinator.events import Event, SessionStarted, TextDelta, ToolCalled, Usage, UsageUpdated
from coordinator.pipeline import PreparedReview
from coordinator.runner import plan_review_for
from coordinator.runtimes.base import SessionSpec, TurnResult
from coordinator.runtimes.registry import RuntimeContext
from coordinator.tui.live import LiveReviewRun
from tests.fakes.in_process import InProcessRuntime
from tests.gitrepo import GitRepo, make_repo

BASE = "def total(items):\n    return sum(items)\n\n\ndef name(user):\n    return user.name\n"
CHANGED = (
    "def total(items):\n    return sum(i.price for i in items)\n\n\n"
    "def name(user):\n    return user['name'].strip()\n"
)


def finding(line: int, title: str, severity: str = "high", **more: Any) -> dict[str, Any]:
    return {
        "path": "shop.py",
        "line": line,
        "severity": severity,
        "category": more.pop("category", "correctness"),
        "title": title,
        "body": more.pop("body", f"{title}."),
        "confidence": more.pop("confidence", 0.8),
        **more,
    }


def answer(*findings: dict[str, Any]) -> str:
    return json.dumps({"findings": list(findings)})


def changed_repo(tmp_path: Path) -> GitRepo:
    repo = make_repo(tmp_path)
    repo.write("shop.py", BASE)
    repo.commit("base")
    repo.write("shop.py", CHANGED)
    return repo


SETTINGS = ReviewSettings(runtime="scripted", cache=False, timeout_s=30)


async def prepare(repo: GitRepo, agents: tuple[str, ...], **settings: Any) -> PreparedReview:
    chosen = ReviewSettings(**{**SETTINGS.__dict__, "agents": agents, **settings})
    # require_runtime=False: "scripted" is no registered runtime; live_run supplies it.
    return await plan_review_for(
        repo.root, DiffRequest(), chosen, dict(repo.env), require_runtime=False
    )


@dataclass
class Script:
    """What each session does, by agent name: answer text, an error, or wait for a gate."""

    answers: dict[str, str] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    gates: dict[str, anyio.Event] = field(default_factory=dict)
    fail_once: set[str] = field(default_factory=set)  # fail the first session of these agents


@dataclass
class GatedRuntime(InProcessRuntime):
    """A Runtime in-process: emits tool and text events, then answers as scripted.
    Records every session it opened and every one aborted (left before it answered)."""

    script: Script
    name: str = "scripted"
    opened: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    starting: anyio.Event | None = None  # when set, entering the runtime waits for it
    entered: int = 0

    async def __aenter__(self) -> Self:
        self.entered += 1
        if self.starting is not None:
            await self.starting.wait()
        return self

    def default_model(self) -> str | None:
        return "fake/m"

    @asynccontextmanager
    async def open_session(
        self, spec: SessionSpec, emit: Callable[[Event], None]
    ) -> AsyncIterator[_GatedSession]:
        self.opened.append(spec.key)
        emit(SessionStarted(spec.key, spec.agent.name, f"ses-{spec.key}"))
        done = False
        try:
            yield _GatedSession(self, spec, emit)
            done = True
        finally:
            if not done:
                self.aborted.append(spec.key)


@dataclass
class _GatedSession:
    runtime: GatedRuntime
    spec: SessionSpec
    emit: Callable[[Event], None]

    async def prompt(self, text: str) -> TurnResult:
        agent = self.spec.agent.name
        script = self.runtime.script
        self.emit(ToolCalled(self.spec.key, agent, "read", "shop.py", "running", "c1"))
        self.emit(TextDelta(self.spec.key, agent, f"{agent} is reading shop.py\n"))
        self.emit(UsageUpdated(self.spec.key, agent, Usage(1000, 50, 0.01)))
        gate = script.gates.get(agent)
        if gate is not None:
            await gate.wait()
        if agent in script.fail_once:
            script.fail_once.discard(agent)
            raise SessionError("APIError: the provider is down (HTTP 401)")
        if agent in script.failures:
            raise SessionError(script.failures[agent])
        return TurnResult(
            text=script.answers.get(agent, answer()), structured=None, usage=Usage(1000, 80, 0.02)
        )


def live_run(prepared: PreparedReview, runtime: GatedRuntime, **settings: Any) -> LiveReviewRun:
    def factory(ctx: RuntimeContext) -> GatedRuntime:
        return runtime

    chosen = ReviewSettings(**{**SETTINGS.__dict__, **settings})
    return LiveReviewRun(prepared, chosen, {}, runtime_factories={"scripted": factory})


async def eventually(condition: Callable[[], bool], polls: int = 1000) -> None:
    """Poll until ``condition()`` holds (the run advances in other tasks); ~10 s at most."""
    for _ in range(polls):
        if condition():
            return
        await anyio.sleep(0.01)
    raise AssertionError("condition not reached in time")
