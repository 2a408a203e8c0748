"""The TUI driven with Pilot through a scripted ReviewRun: what the user sees and what
reaches the run when they press keys."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import io
import json
import tomllib
from pathlib import Path

import pytest
from rich.color import ColorSystem
from rich.console import Console
from rich.style import Style
from rich.text import Text
from textual.coordinate import Coordinate
from textual.pilot import Pilot
from textual.strip import Strip
from textual.widgets import Input, Select, Static

from coordinator.dismissals import load_dismissals
from coordinator.events import (
    SessionFinished,
    SessionRetrying,
    SessionStarted,
    TextDelta,
    ToolCalled,
    Usage,
    UsageUpdated,
)
from coordinator.findings import Severity
from coordinator.review import ReviewerStatus
from coordinator.tui import app as tui_app
from coordinator.tui.app import CouncilApp
from coordinator.tui.demo import DEMO_FILES, demo_findings, demo_overview, demo_review, demo_script
from coordinator.tui.run import PlannedSession
from coordinator.tui.screens import ConfirmScreen, ExportScreen, HelpScreen
from coordinator.tui.scripted import Finish, ScriptedReviewRun, Tick
from coordinator.tui.widgets.live import ReviewerTable
from coordinator.tui.widgets.review import FindingsTable
from coordinator.tui.widgets.stream_log import StreamLog

pytestmark = pytest.mark.anyio
SIZE = (120, 36)
TODAY = dt.date(2024, 5, 1)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def scripted(repo: Path, *, script: bool = False) -> ScriptedReviewRun:
    run = ScriptedReviewRun(demo_overview(repo), demo_review(), files=DEMO_FILES)
    if script:
        run.feed(*demo_script())
    return run


def make_app(run: ScriptedReviewRun, **options: object) -> CouncilApp:
    return CouncilApp(lambda: run, clock=run.clock, refresh_s=0.02, today=lambda: TODAY, **options)  # type: ignore[arg-type]


async def settle(pilot: Pilot[int], run: ScriptedReviewRun) -> None:
    """Until the app has every update fed so far on screen."""
    await run.wait_drained()
    await pilot.pause(0.06)  # a few repaint ticks
    await background(pilot.app)
    await pilot.pause()


async def background(app: object) -> None:
    """Until the app's short workers (file reads and writes) are done; the run may go on."""
    assert isinstance(app, CouncilApp)
    short = [w for w in app.workers if w.group not in RUNS]
    if short:  # an empty list would mean every worker, the run included
        await app.workers.wait_for_complete(short)


RUNS = ("run", "rerun")


def plain(static: Static) -> str:
    """What a Static shows, as plain text."""
    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(static.content)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def cell(app: CouncilApp, row: str, column: str) -> str:
    value = app.query_one(ReviewerTable).get_cell(row, column)
    return value.plain if isinstance(value, Text) else str(value)


def pick(app: CouncilApp, row_key: str) -> ReviewerTable:
    """Put the reviewer table's cursor on a row, as the arrow keys would."""
    table = app.query_one(ReviewerTable)
    table.move_cursor(row=table.get_row_index(row_key))
    return table


def session_log(app: CouncilApp) -> StreamLog:
    return app.query_one("#log-text", StreamLog)


def finding_titles(app: CouncilApp) -> list[str]:
    table = app.query_one(FindingsTable)
    return [str(table.get_cell_at(Coordinate(i, 2))) for i in range(table.row_count)]


async def test_rows_change_state_as_events_arrive(tmp_path: Path) -> None:
    run = scripted(tmp_path)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        run.feed(*(SessionStarted(k, k.split("#")[0], "s") for k in ("security#1",)))
        await settle(pilot, run)
        assert cell(app, "session:security#1", "state") == "● running"
        assert cell(app, "agent:security", "state") == "● running"
        assert cell(app, "agent:tests", "state") == "○ queued"

        run.feed(
            ToolCalled("security#1", "security", "read", "app/db.py", "running", "c1"),
            ToolCalled("security#1", "security", "read", "app/db.py", "completed", "c1"),
            ToolCalled("security#1", "security", "grep", "execute", "running", "c2"),
            Tick(3.0),
        )
        await settle(pilot, run)
        assert cell(app, "session:security#1", "tools") == "2"
        assert cell(app, "session:security#1", "detail") == "grep execute"
        assert cell(app, "session:security#1", "time") == "3s"

        run.feed(SessionRetrying("performance#1", "performance", 1, "HTTP 429 slow down", 2.0))
        await settle(pilot, run)
        assert cell(app, "agent:performance", "state") == "↻ retrying"
        assert "HTTP 429" in cell(app, "agent:performance", "detail")

        run.feed(
            SessionFinished(
                "security#1", "security", ReviewerStatus.OK, 2, Usage(9000, 700, 0.0312), 3.0
            ),
            SessionFinished("tests#1", "tests", ReviewerStatus.FAILED, 0, Usage(), 1.0, "boom"),
        )
        await settle(pilot, run)
        assert cell(app, "session:security#1", "state") == "✓ done"
        assert cell(app, "session:security#1", "cost") == "$0.0312"
        assert cell(app, "session:security#1", "findings") == "2"
        assert cell(app, "agent:security", "state") == "● running"  # its chunk 2 is queued
        assert cell(app, "agent:tests", "state") == "✗ failed"
        assert cell(app, "agent:tests", "detail") == "boom"


class CountingApp(CouncilApp):
    CSS_PATH = str(Path(tui_app.__file__).parent / str(CouncilApp.CSS_PATH))  # not ours
    repaints = 0

    def _paint(self) -> None:
        self.repaints += 1
        super()._paint()


async def test_a_burst_of_events_is_one_repaint_and_an_idle_app_repaints_nothing(
    tmp_path: Path,
) -> None:
    run = scripted(tmp_path)
    app = CountingApp(lambda: run, clock=run.clock, refresh_s=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        before = app.repaints
        run.feed(
            SessionStarted("security#1", "security", "s"),
            *(TextDelta("security#1", "security", f"token {n} ") for n in range(500)),
            ToolCalled("security#1", "security", "read", "app/db.py", "completed", "c1"),
            SessionFinished("security#1", "security", ReviewerStatus.OK, 0, Usage(), 1.0),
        )
        await run.wait_drained()
        await pilot.pause(0.2)
        assert cell(app, "session:security#1", "state") == "✓ done"
        assert cell(app, "session:security#1", "tools") == "1"
        assert 1 <= app.repaints - before <= 4  # 503 events, a few scheduler turns

        idle = app.repaints
        await pilot.pause(0.4)  # nothing running: no clock to advance either
        assert app.repaints == idle


async def test_selecting_a_reviewer_shows_its_streamed_text_and_tool_calls(
    tmp_path: Path,
) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        pick(app, "agent:correctness")
        await pilot.pause()
        text = "\n".join(session_log(app).lines)
        assert "▸ read app/api.py" in text
        assert "int(None) raises TypeError" in text


async def test_a_reviewers_chunks_stream_into_the_log_a_marked_line_at_a_time(
    tmp_path: Path,
) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        pick(app, "agent:security")  # two chunks: security#1 done, security#2 running
        await pilot.pause()
        assert "1/2 │ ▸ read app/db.py" in session_log(app).lines
        run.feed(TextDelta("security#2", "security", "The handler trusts "))
        await settle(pilot, run)
        assert not any("trusts" in line for line in session_log(app).lines)  # not a line yet
        run.feed(TextDelta("security#1", "security", "A late note.\n"))
        run.feed(TextDelta("security#2", "security", "its input.\nNext"))
        await settle(pilot, run)
        lines = session_log(app).lines
        assert "1/2 │ A late note." in lines
        assert "2/2 │ The handler trusts its input." in lines
        assert not any("Next" in line for line in lines)
        run.feed(TextDelta("security#2", "security", "x" * 300))  # a long line goes out
        await settle(pilot, run)
        assert "2/2 │ Next" + "x" * 300 in session_log(app).lines


async def test_findings_are_browsable_before_the_run_ends(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        assert app.state.active  # sessions still running or queued
        await pilot.press("2")
        await pilot.pause()
        titles = finding_titles(app)
        assert titles[0] == "SQL query built with an f-string from request input"
        assert len(titles) == 5
        assert "SQL query built" in plain(app.query_one("#detail-header", Static))
        code = plain(app.query_one("#detail-code", Static))
        assert "query = f\"SELECT * FROM users WHERE name = '{name}'\"" in code
        suggestion = plain(app.query_one("#detail-suggestion", Static))
        assert "-     return conn.execute(query).fetchone()" in suggestion
        assert "+     return conn.execute(query, (name,)).fetchone()" in suggestion


async def test_dismiss_writes_the_file_and_hides_the_finding_on_the_next_run(
    tmp_path: Path,
) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    first = demo_findings().findings[0]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("2", "d")
        await pilot.pause()
        await pilot.press(*"validated upstream", "enter")
        await background(app)
        await pilot.pause()
        assert first.title not in finding_titles(app)
        assert len(finding_titles(app)) == 4

    written = tomllib.loads((tmp_path / ".council" / "dismissed.toml").read_text())
    assert written["dismissed"] == [
        {
            "fingerprint": first.id,
            "title": first.title,
            "path": "app/db.py",
            "reason": "validated upstream",
            "date": TODAY,
        }
    ]

    # The next run: the overview carries the file's dismissals, as prepare_review loads them.
    again = scripted(tmp_path, script=True)
    again.overview = type(again.overview)(
        **{**again.overview.__dict__, "dismissals": load_dismissals(tmp_path)}
    )
    app = make_app(again)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, again)
        await pilot.press("2")
        await pilot.pause()
        assert first.title not in finding_titles(app)
        await pilot.press("D")  # show dismissed ones
        await pilot.pause()
        assert finding_titles(app)[0] == first.title
        assert str(app.query_one(FindingsTable).get_cell_at(Coordinate(0, 0))) == "✗"
        await pilot.press("up", "d")  # the cursor stayed on its finding; up, and restore
        await background(app)
        await pilot.pause()
    assert load_dismissals(tmp_path).entries == {}


async def test_accept_marks_the_finding(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("2", "a")
        await pilot.pause()
        assert str(app.query_one(FindingsTable).get_cell_at(Coordinate(0, 0))) == "✓"
        assert app.browser.accepted == {demo_findings().findings[0].id}


async def test_cancel_one_and_cancel_all_reach_the_run(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        pick(app, "agent:correctness")
        await pilot.press("c")
        await settle(pilot, run)
        assert run.cancelled == ["correctness#1"]
        assert cell(app, "agent:correctness", "state") == "■ cancelled"

        await pilot.press("C")
        await settle(pilot, run)
        assert run.cancelled_all
        assert not app.state.active
        assert cell(app, "agent:maintainability", "state") == "■ cancelled"


async def test_rerun_a_failed_reviewer(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    run.feed(Finish(demo_review()))
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        pick(app, "agent:correctness")
        await pilot.press("r")  # still running: nothing to re-run
        await pilot.pause()
        assert run.reruns == []

        pick(app, "agent:tests")
        await pilot.press("r")
        await pilot.pause()
        assert run.reruns == [["tests#1"]]
        assert cell(app, "agent:tests", "state") == "○ queued"

        run.feed(
            SessionStarted("tests#1", "tests", "s2"),
            SessionFinished("tests#1", "tests", ReviewerStatus.OK, 0, Usage(10, 1, 0.01), 1.0),
            Finish(demo_review()),
        )
        await settle(pilot, run)
        assert cell(app, "agent:tests", "state") == "✓ done"
        log = "\n".join(session_log(app).lines)
        assert "── re-run ──" in log


async def test_quit_while_running_asks_then_cancels_cleanly(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        assert not run.cancelled_all
        assert app.is_running

        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause(0.2)
    assert run.cancelled_all
    assert app.return_value == 130


async def test_quit_after_the_run_needs_no_confirmation(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    run.feed(Finish(demo_review()))
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0
    assert not run.cancelled_all


async def test_help_lists_every_key(tmp_path: Path) -> None:
    app = make_app(scripted(tmp_path))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        shown = plain(app.screen.query_one("#help-keys", Static))
        for words in ("Cancel every session", "Run a failed", "Dismiss with a reason", "$EDITOR"):
            assert words in shown
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)


async def test_copy_a_finding_as_markdown(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("2", "y")
        await pilot.pause()
    text = app.clipboard
    assert text.startswith("### [CRITICAL] SQL query built with an f-string from request input")
    assert "`app/db.py:5-6`" in text
    assert "```suggestion" in text
    assert "- **correctness**: User-controlled name interpolated into SQL query" in text


async def test_export_applies_dismissals_and_keeps_every_finding(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    run.feed(Finish(demo_review()))
    app = make_app(run)
    first = demo_findings().findings[0]
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("2", "d")
        await pilot.pause()
        await pilot.press(*"not exploitable", "enter")
        await background(app)
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one(Select).value = "json"
        await pilot.pause()
        path_input = app.screen.query_one("#export-path", Input)
        assert path_input.value == str(tmp_path / "council-review.json")
        path_input.focus()
        await pilot.press("enter")
        await background(app)
        await pilot.pause()
    doc = json.loads((tmp_path / "council-review.json").read_text())
    assert first.id not in [f["id"] for f in doc["findings"]]
    assert [f["rank"] for f in doc["findings"]] == [1, 2, 3, 4]
    dismissed = [r for r in doc["rejected"] if r["reason"] == "dismissed: not exploitable"]
    assert sorted(r["reviewer"] for r in dismissed) == ["correctness", "security"]
    assert doc["summary"]["counts"]["critical"] == 0


async def test_export_waits_for_the_review(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("2", "x")
        await pilot.pause()
        assert not isinstance(app.screen, ExportScreen)


async def test_open_the_finding_in_the_editor_at_its_line(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    calls: list[list[str]] = []

    def launch(argv: list[str]) -> int:
        calls.append(argv)
        return 0

    app = make_app(run, env={"EDITOR": "nvim -R"}, launch_editor=launch)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("2", "e")
        await pilot.pause()
    assert calls == [["nvim", "-R", "+5", str(tmp_path / "app" / "db.py")]]


async def test_filters_by_severity_reviewer_path_and_text(tmp_path: Path) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        await pilot.press("2")
        app.query_one("#severity", Select).value = Severity.HIGH
        await pilot.pause()
        assert len(finding_titles(app)) == 2
        app.query_one("#severity", Select).value = Select.NULL
        app.query_one("#reviewer", Select).value = "security"
        await pilot.pause()
        assert finding_titles(app) == [
            "SQL query built with an f-string from request input",
            "Lookup by name enumerates users",
        ]
        app.query_one("#reviewer", Select).value = Select.NULL
        app.query_one("#path", Input).value = "api"
        await pilot.pause()
        assert len(finding_titles(app)) == 3
        app.query_one("#path", Input).value = ""
        await pilot.press("slash", *"limit")
        await pilot.pause()
        assert finding_titles(app) == [
            "int(None) raises when the limit parameter is missing",
            "Every row is fetched and copied before the limit is applied",
        ]


async def test_many_sessions_fit_the_width_beside_the_vertical_scrollbar(tmp_path: Path) -> None:
    overview = demo_overview(tmp_path)
    many = tuple(
        PlannedSession(f"security#{i + 1}", "security", "opencode", "m", i, 20, (f"app/m{i}.py",))
        for i in range(20)
    )
    run = ScriptedReviewRun(
        dataclasses.replace(overview, sessions=many), demo_review(), files=DEMO_FILES
    )
    app = make_app(run)
    async with app.run_test(size=(120, 60)) as pilot:
        await settle(pilot, run)
        table = app.query_one(ReviewerTable)
        assert table.row_count == 21  # the reviewer and its 20 chunks
        assert not table.show_vertical_scrollbar
        # Shorter, same width: the scrollbar appears and takes columns from the table.
        await pilot.resize_terminal(120, 24)
        await settle(pilot, run)
        assert table.show_vertical_scrollbar
        # The detail column gave up the scrollbar's width: nothing hangs off the edge.
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert not table.show_horizontal_scrollbar


async def test_streaming_into_the_log_repaints_without_re_laying_out_the_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        pick(app, "agent:correctness")
        await pilot.pause()
        layouts: list[object] = []
        refresh_layout = app.screen._refresh_layout
        monkeypatch.setattr(
            app.screen,
            "_refresh_layout",
            lambda *a, **k: (layouts.append(a), refresh_layout(*a, **k))[1],
        )
        key = "correctness#1"
        for i in range(40):
            run.feed(TextDelta(key, "correctness", f"line {i} of the stream\n"))
            run.feed(UsageUpdated(key, "correctness", Usage(100 + i, 10, 0.01)))
            await settle(pilot, run)
        log = session_log(app)
        assert "line 39 of the stream" in "\n".join(log.lines)
        assert log.scroll_y == log.max_scroll_y > 0  # followed to the end, scrollbar and all
        # Text, counters and the summary line changed; the screen's layout did not.
        assert layouts == []


async def test_full_collections_run_after_a_repaint_and_the_freeze_is_thawed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen_before = gc.get_freeze_count()
    run = scripted(tmp_path, script=True)
    app = make_app(run)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, run)
        assert gc.get_freeze_count() > frozen_before  # start-up objects, out of the way
        collected: list[tuple[int, int]] = []  # (generation, styles cached then)

        def collect(generation: int = 2) -> None:
            info = getattr(Strip.render_ansi, "cache_info", None)
            collected.append((generation, info().currsize if info else -1))

        monkeypatch.setattr(gc, "collect", collect)
        monkeypatch.setattr(gc, "get_count", lambda: (0, 0, tui_app.FULL_GC_EVERY))
        Strip.render_ansi(Style(bold=True, meta={"offset": (0, 1)}), ColorSystem.TRUECOLOR)
        run.feed(UsageUpdated("correctness#1", "correctness", Usage(5, 5, 0.001)))
        await settle(pilot, run)
        # Full collections, each just after Textual's cache of styles was emptied.
        assert collected
        assert set(collected) == {(2, 0)}
        # A Textual without that cache: nothing to empty, and the collection still runs.
        monkeypatch.setattr(Strip, "render_ansi", classmethod(Strip.render_ansi.__wrapped__))
        app._collect()
        assert collected[-1] == (2, -1)
    assert gc.get_freeze_count() == frozen_before == 0
