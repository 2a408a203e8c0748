"""Run a whole review for a front end: choose runtimes, plan, start runtimes, run, assemble.

The CLI, the git hook, the GitHub integration and the TUI all go through here, so
they share runtime selection and lifecycle (a spawned server is always stopped).
Signals and presentation stay with the front ends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from coordinator.agents import VERIFIER, AgentSpec, load_roster
from coordinator.config import ReviewSettings
from coordinator.containment import check_untrusted_roster, git_show, roster_at
from coordinator.diff.sources import DiffRequest, read_diff
from coordinator.errors import ConfigError
from coordinator.events import EventSink
from coordinator.pipeline import PreparedReview, execute_review, prepare_review
from coordinator.result_store import ResultStore, default_store_path, unanswered
from coordinator.review import Review
from coordinator.runtimes.base import Runtime
from coordinator.runtimes.registry import (
    RUNTIME_FACTORIES,
    RuntimeContext,
    default_runtime,
    runtime_for_agent,
)
from coordinator.session import AssignmentOutcome, SessionControls

NO_RUNTIME = "(none available)"


async def plan_review_for(
    repo: Path,
    request: DiffRequest,
    settings: ReviewSettings,
    env: Mapping[str, str],
    *,
    agents: Sequence[AgentSpec] | None = None,
    stdin_text: str | None = None,
    require_runtime: bool = True,
) -> PreparedReview:
    """Read the diff and plan it. With ``require_runtime=False`` (dry runs) a missing
    runtime is shown in the plan instead of being an error."""
    read_guideline: Callable[[str], str | None] | None = None
    if settings.untrusted:
        # Reviewers, guidelines and runtime config come from the base commit, never
        # from the branch under review.
        base = await anyio.to_thread.run_sync(_base_commit, repo, request, stdin_text)
        roster = await anyio.to_thread.run_sync(roster_at, repo, base)
        agents = roster.select(settings.agents)
        check_untrusted_roster([*agents, *([roster.agents[VERIFIER]] if settings.verify else [])])

        def read_guideline(rel: str) -> str | None:
            return git_show(repo, base, rel)
    else:
        roster = load_roster(repo)
        if agents is None:
            agents = roster.select(settings.agents)
    try:
        default = default_runtime(settings, env)
    except ConfigError:
        if require_runtime:
            raise
        default = NO_RUNTIME
    runtime_for: Callable[[AgentSpec], str] = (
        runtime_for_agent(settings, default)
        if require_runtime
        else (lambda a: settings.runtime or a.runtime or default)
    )
    return await prepare_review(
        repo,
        request,
        agents,
        settings,
        runtime_for=runtime_for,
        stdin_text=stdin_text,
        verifier=roster.agents.get(VERIFIER),
        read_guideline=read_guideline,
    )


def _base_commit(repo: Path, request: DiffRequest, stdin_text: str | None) -> str:
    return read_diff(repo, request, stdin_text=stdin_text).base or "HEAD"


async def run_prepared(
    prepared: PreparedReview,
    settings: ReviewSettings,
    env: Mapping[str, str],
    emit: EventSink,
    *,
    stop: anyio.Event | None = None,
    controls: SessionControls | None = None,
    on_runtimes_ready: Callable[[], None] | None = None,
    on_outcomes: Callable[[Sequence[AssignmentOutcome]], None] | None = None,
) -> Review:
    """Start the runtimes the plan needs, run every session, stop the runtimes.

    Assignments answered before (the result store, unless ``settings.cache`` is off)
    need no runtime: a fully remembered review starts no server and no session.
    """
    store = ResultStore(default_store_path(env)) if settings.cache else None
    fresh = unanswered(prepared.plan.assignments, store)
    async with AsyncExitStack() as stack:
        if store is not None:
            stack.callback(store.close)
        runtimes: dict[str, Runtime] = {}
        needed = {a.runtime for a in fresh}
        if prepared.verifier is not None and prepared.verifier_runtime is not None:
            needed.add(prepared.verifier_runtime)
        for name in sorted(needed):
            using = [a.agent for a in fresh if a.runtime == name]
            if prepared.verifier is not None and prepared.verifier_runtime == name:
                using.append(prepared.verifier)
            unique = list({a.name: a for a in using}.values())
            ctx = RuntimeContext(workdir=prepared.repo, agents=unique, settings=settings, env=env)
            runtimes[name] = await stack.enter_async_context(RUNTIME_FACTORIES[name](ctx))
        if on_runtimes_ready is not None:
            on_runtimes_ready()
        return await execute_review(
            prepared,
            runtimes,
            settings,
            emit,
            stop=stop,
            controls=controls,
            store=store,
            on_outcomes=on_outcomes,
        )
