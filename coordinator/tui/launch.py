"""``council tui``: plan the review in the terminal (errors print as for ``council review``),
then hand the app a LiveReviewRun. Imported only by that command, so textual loads only here."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path

import anyio

from coordinator.agents import AgentSpec
from coordinator.config import ReviewSettings
from coordinator.diff.sources import DiffRequest
from coordinator.errors import ConfigError
from coordinator.runner import plan_review_for
from coordinator.tui.app import CouncilApp
from coordinator.tui.live import LiveReviewRun


def launch_tui(
    repo: Path,
    request: DiffRequest,
    agents: Sequence[AgentSpec] | None,
    settings: ReviewSettings,
    env: Mapping[str, str],
) -> int:
    if request.patch == "-":
        raise ConfigError(
            "council tui reads keys from the terminal: use --patch FILE, not --patch -"
        )
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ConfigError("council tui needs a terminal; use council review in pipes and CI")
    prepared = anyio.run(partial(plan_review_for, repo, request, settings, env, agents=agents))
    app = CouncilApp(lambda: LiveReviewRun(prepared, settings, env), env=env)
    code = app.run()
    return 0 if code is None else code
