"""Layout snapshots of the TUI at a fixed size with deterministic data (coordinator.tui.demo).

Regenerate after an intended change with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at the SVGs under tests/__snapshots__/.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from coordinator.tui.app import CouncilApp
from coordinator.tui.demo import demo_run

SIZE = (120, 36)
Compare = Callable[..., bool]


def demo_app() -> tuple[CouncilApp, Callable[[Pilot[Any]], Awaitable[None]]]:
    run = demo_run(Path("/repo"))
    app = CouncilApp(lambda: run, clock=run.clock)

    async def settled(pilot: Pilot[Any], *keys: str) -> None:
        await run.wait_drained()
        await pilot.pause(0.25)
        app.clear_notifications()
        await pilot.press(*keys)
        await pilot.pause(0.25)
        app.clear_notifications()
        await pilot.pause()

    return app, settled


def test_live_view(snap_compare: Compare) -> None:
    app, settled = demo_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=settled)


def test_live_view_of_a_failed_reviewer(snap_compare: Compare) -> None:
    app, settled = demo_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda p: settled(p, *["down"] * 5))


def test_review_browser(snap_compare: Compare) -> None:
    app, settled = demo_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda p: settled(p, "2"))


def test_review_browser_wide_with_a_suggestion(snap_compare: Compare) -> None:
    app, settled = demo_app()
    assert snap_compare(app, terminal_size=(170, 40), run_before=lambda p: settled(p, "2", "down"))


def test_help(snap_compare: Compare) -> None:
    app, settled = demo_app()
    assert snap_compare(app, terminal_size=SIZE, run_before=lambda p: settled(p, "question_mark"))
