"""The Textual app: a live view of the sessions and a browser of the ranked review.

The app is the controller. It gets its ``ReviewRun`` from a factory (tests pass a
scripted one), folds the run's updates into ``RunState`` / ``BrowserState`` as they
arrive, and repaints the widgets from that state when it changed: the first update
after a repaint schedules the next one, at once if the last was at least
``refresh_s`` ago, else when that much time has passed. So with 50 sessions each
streaming many events a second the cost of an event stays one dict update, the
screen changes at most every ``refresh_s``, an update waits at most that long, and
an idle app does not repaint. Slow work (the run, file reads and writes) happens in
workers.
"""

from __future__ import annotations

import datetime as dt
import gc
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import anyio
from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SuspendNotSupported
from textual.binding import Binding, BindingType
from textual.containers import Container
from textual.css.query import NoMatches
from textual.strip import Strip
from textual.widgets import Footer, Input, TabbedContent, TabPane

from coordinator import dismissals
from coordinator.errors import CouncilError
from coordinator.findings import ReviewFinding
from coordinator.reporters import REPORTERS
from coordinator.review import Review
from coordinator.tui.browse import BrowserState, FindingFilter, Triage, exported_review
from coordinator.tui.editor import editor_command, editor_from, run_editor
from coordinator.tui.render import finding_markdown, hunk_for, lexer_for
from coordinator.tui.run import FindingsUpdate, ReviewRun, RunUpdate
from coordinator.tui.screens import ConfirmScreen, DismissScreen, ExportScreen, HelpScreen
from coordinator.tui.state import RunState, SessionRow
from coordinator.tui.widgets.live import (
    AGENT_ROW,
    SESSION_ROW,
    LivePane,
    ReviewerTable,
    RunSummary,
    SessionLog,
)
from coordinator.tui.widgets.review import (
    FilterBar,
    FindingDetail,
    FindingsTable,
    FindingView,
    ReviewPane,
)

EXIT_OK, EXIT_INTERRUPTED = 0, 130
REPAINT_GAP_S = 0.02  # the shortest time between two repaints: ~40 a second under load
FULL_GC_EVERY = 2  # middle-generation collections between two full ones (CPython's: 10)
CLOCK_TICK_S = 0.25  # running rows show whole seconds; nothing else changes them
NO_FINDINGS_YET = "No findings yet: they appear here as soon as a reviewer finishes."
NO_FINDINGS = "No findings."
NO_MATCH = "No finding matches the filters."
WIDE_LAYOUT = 150  # columns from which the finding list and detail sit side by side
TABLE_KEYS = (("↑ ↓ / PgUp PgDn", "Move in a list"), ("tab", "Next control"))


class CouncilApp(App[int]):
    CSS_PATH = "council.tcss"
    TITLE = "council"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_tab('live')", "Live", tooltip="The live view of the sessions"),
        Binding("2", "show_tab('review')", "Review", tooltip="The review browser"),
        Binding("question_mark", "help", "Keys", tooltip="This list of keys"),
        Binding("q", "quit", "Quit", tooltip="Quit (also ctrl+q); asks first while sessions run"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        make_run: Callable[[], ReviewRun],
        *,
        clock: Callable[[], float] = time.monotonic,
        refresh_s: float = REPAINT_GAP_S,
        today: Callable[[], dt.date] = dt.date.today,
        env: Mapping[str, str] | None = None,
        launch_editor: Callable[[list[str]], int] = run_editor,
    ) -> None:
        super().__init__()
        self.review_run = make_run()
        self.overview = self.review_run.overview
        self.state = RunState(self.overview.sessions, clock)
        self.browser = BrowserState(
            dismissals=self.overview.dismissals,
            filter=FindingFilter(show_dismissed=self.overview.show_dismissed),
        )
        self.review: Review | None = None
        self._refresh_s = refresh_s
        self._repaint_due = False
        self._painted_at = -refresh_s  # time.monotonic() of the last repaint
        self._unmounted = False
        self._collect_due = False
        self._today = today
        self._env = os.environ if env is None else env
        self._launch_editor = launch_editor
        self._files: dict[str, str | None] = {}  # new-side file texts read so far
        self._findings_dirty = False
        self._announced_findings = False
        self._active_runs = 0
        self._quitting = False
        self._note = ""

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RunSummary(id="summary")
        with TabbedContent(initial="live", id="tabs"):
            with TabPane("Live", id="live"), LivePane(id="live-pane"):
                yield ReviewerTable(id="reviewers")
                yield SessionLog(id="session-log")
            with TabPane("Review", id="review"), ReviewPane(id="review-pane"):
                yield FilterBar(id="filters")
                with Container(id="review-body"):
                    yield FindingsTable(id="findings")
                    yield FindingDetail(id="detail")
        yield Footer()

    def on_resize(self) -> None:
        try:
            body = self.query_one("#review-body", Container)
        except NoMatches:  # not composed yet; on_mount sets it
            return
        body.set_class(self.size.width >= WIDE_LAYOUT, "wide")

    def on_mount(self) -> None:
        # Start-up objects (modules, Textual, the diff) live as long as the app: out of
        # the collector's way at once, not only once settled (see _settle).
        gc.freeze()
        # A full collection stops the loop: Textual's strips are cyclic garbage, and
        # the collection walks every object made since the freeze. Left to itself
        # it lands in the middle of drawing a frame; _repaint runs it just after a
        # frame reached the screen instead, and every 2nd middle-generation
        # collection rather than Python's every 10th, so each is short: 2-9 ms
        # under load in bench/tui_load.py, against 15-34 ms at Python's pace.
        self.sub_title = self.overview.source
        self.on_resize()
        self.query_one(ReviewerTable).focus()
        self._repaint()
        self.set_interval(CLOCK_TICK_S, self._tick_clocks)
        self.query_one(FindingDetail).show(None, NO_FINDINGS_YET)
        self.call_after_refresh(self._settle)
        self._run_review()

    def on_unmount(self) -> None:
        self._unmounted = True
        gc.unfreeze()

    # -- updates from the run ------------------------------------------------------------

    def _take_update(self, update: RunUpdate) -> None:
        """The run's sink: cheap on purpose (see the module docstring)."""
        if isinstance(update, FindingsUpdate):
            self.browser.update(update.findings, update.members, final=update.final)
            self._findings_dirty = True
        else:
            self.state.apply(update)
        self._schedule_repaint()

    def _schedule_repaint(self) -> None:
        """Repaint soon: at once after a quiet spell, else ``refresh_s`` after the last."""
        if self._repaint_due:
            return  # the repaint already due will show this change too
        self._repaint_due = True
        wait = self._painted_at + self._refresh_s - time.monotonic()
        if wait > 0:
            self.set_timer(wait, self._due_repaint, name="repaint")
        else:  # after the messages already queued (a timer cannot wait 0 s)
            self.call_later(self._due_repaint)

    def _due_repaint(self) -> None:
        self._repaint_due = False
        self._repaint()

    def _tick_clocks(self) -> None:
        if self.state.clocks_running:
            self._schedule_repaint()

    def _repaint(self) -> None:
        self._painted_at = time.monotonic()
        try:
            self._paint()
        except NoMatches:  # the app is closing: its widgets are going away
            return
        if gc.get_count()[2] >= FULL_GC_EVERY and not self._collect_due:
            self._collect_due = True  # once, however many repaints come before it runs
            self.call_after_refresh(self._collect)

    def _collect(self) -> None:
        self._collect_due = False
        # Textual keeps the escape codes of the last 16,384 styles it drew. Each log
        # line's style is unique (its text-selection offset), so that cache holds few
        # hits and ~25,000 objects, which every full collection walked: two thirds
        # of what it walked. A style keeps its own codes anyway (Style._ansi). A
        # later Textual 8 without that cache has nothing to empty.
        empty_style_cache = getattr(Strip.render_ansi, "cache_clear", None)
        if empty_style_cache is not None:
            empty_style_cache()
        gc.collect(2)

    def _paint(self) -> None:
        table = self.query_one(ReviewerTable)
        if self.state.structure_changed:
            self.state.structure_changed = False
            table.rebuild(self.state)
        dirty = self.state.take_dirty()
        table.refresh_rows(self.state, dirty)
        log = self.query_one(SessionLog)
        if any(k in dirty for k in log.keys):
            sessions = [self.state.sessions[k] for k in log.keys]
            log.append_new(sessions)
            log.retitle(_log_title(sessions))
        if log.keys == () and table.selected_key is not None:
            self._follow(table.selected_key)
        self.query_one(RunSummary).show(
            self.state, self.overview.source, self.browser.open_count(), self._note
        )
        if self._findings_dirty:
            self._findings_dirty = False
            self._show_findings()

    def _show_findings(self) -> None:
        self.query_one(FilterBar).set_reviewers(self.browser.reviewers())
        self.query_one(FindingsTable).show(self.browser)
        count = self.browser.open_count()
        self.query_one(TabbedContent).get_tab("review").label = f"Review ({count})"
        if count and not self._announced_findings:
            self._announced_findings = True
            if self.query_one(TabbedContent).active == "live" and self.state.active:
                self.notify(
                    f"{count} finding(s) so far: press 2 to browse them while reviewers work."
                )

    @work(group="settle")
    async def _settle(self) -> None:
        """Once the first frame is up: the slow first look-ups, then out of the GC's way.

        The lexers are picked in a thread: on the event loop the first look-up would
        stop the screen for ~0.4 s when the first finding is shown (see lexer_for).

        Then ``gc.freeze()``: what exists by now (modules, Textual, the widgets, the
        diff) lives as long as the app, yet each full collection walked all of it:
        ~100,000 objects, ~110 ms with the loop stopped (bench/tui_load.py, on a busy
        two-core machine), every 0.7 s under load, as Textual's strips make cyclic
        garbage every frame. Frozen, a full collection walks only what the run made
        since (see on_mount and _collect). ``on_unmount`` thaws it, so frozen garbage
        cannot pile up over many apps in one process (the tests).
        """
        paths = [file.path for file in self.overview.diff.files]
        await anyio.to_thread.run_sync(lambda: [lexer_for(path) for path in paths])
        if not self._unmounted:
            gc.freeze()

    # -- the run -------------------------------------------------------------------------

    @work(exclusive=True, group="run")
    async def _run_review(self) -> None:
        await self._drive(self.review_run.run(self._take_update))

    @work(group="rerun")
    async def _rerun(self, keys: list[str]) -> None:
        await self._drive(self.review_run.rerun(keys, self._take_update))

    async def _drive(self, running: Awaitable[Review]) -> None:
        self._active_runs += 1
        try:
            self.review = await running
            if not self._quitting and self._active_runs == 1:
                self._note = "complete"
                count = len(self.browser.visible())
                self.notify(f"Review complete: {count} finding(s) to look at. Export with x.")
        except CouncilError as exc:
            self._note = "stopped by an error"
            self.notify(str(exc), title="council", severity="error", timeout=30)
        finally:
            self._active_runs -= 1
            self._repaint()
            if self._quitting and self._active_runs == 0:
                self.exit(EXIT_INTERRUPTED)

    # -- live view -----------------------------------------------------------------------

    def on_reviewer_table_picked(self, message: ReviewerTable.Picked) -> None:
        self._follow(message.row_key)

    def _follow(self, row_key: str) -> None:
        sessions = self._sessions_of(row_key)
        if sessions:
            self.query_one(SessionLog).follow(sessions, _log_title(sessions))

    def _sessions_of(self, row_key: str | None) -> list[SessionRow]:
        if row_key is None:
            return []
        if row_key.startswith(AGENT_ROW):
            return list(self.state.reviewer(row_key.removeprefix(AGENT_ROW)).sessions)
        key = row_key.removeprefix(SESSION_ROW)
        return [self.state.sessions[key]] if key in self.state.sessions else []

    def _selected_sessions(self) -> list[SessionRow]:
        return self._sessions_of(self.query_one(ReviewerTable).selected_key)

    def action_cancel_selected(self) -> None:
        live = [s for s in self._selected_sessions() if not s.state.finished]
        if not live:
            self.notify("Nothing to cancel here: these sessions have finished.")
            return
        for session in live:
            self.review_run.cancel(session.key)
        self.notify(f"Cancelling {', '.join(s.key for s in live)}")

    def action_cancel_all(self) -> None:
        if not self.state.active:
            self.notify("No session is running.")
            return
        self.review_run.cancel_all()
        self._note = "cancelling…"
        self._schedule_repaint()

    def action_rerun_selected(self) -> None:
        again = [s.key for s in self._selected_sessions() if s.state.rerunnable]
        if not again:
            self.notify("Only failed or cancelled sessions can be re-run.")
            return
        self.state.requeue(again)
        self._note = ""
        self._schedule_repaint()
        self._rerun(again)
        self.notify(f"Re-running {', '.join(again)}")

    # -- review browser ------------------------------------------------------------------

    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self.browser.filter = replace(
            self.browser.filter,
            text=message.text,
            min_severity=message.min_severity,
            reviewer=message.reviewer,
            path=message.path,
        )
        self.query_one(FindingsTable).show(self.browser)

    def on_findings_table_picked(self, message: FindingsTable.Picked) -> None:
        self._show_detail(message.finding_id)

    def _selected_finding(self) -> ReviewFinding | None:
        finding_id = self.query_one(FindingsTable).selected_id
        return self.browser.by_id(finding_id) if finding_id else None

    def _show_detail(self, finding_id: str | None) -> None:
        detail = self.query_one(FindingDetail)
        finding = self.browser.by_id(finding_id) if finding_id else None
        if finding is None:
            empty = NO_MATCH if self.browser.findings else NO_FINDINGS_YET
            if self.browser.final and not self.browser.findings:
                empty = NO_FINDINGS
            detail.show(None, empty)
            return
        file = next((f for f in self.overview.diff.files if f.path == finding.path), None)
        needs_file = hunk_for(file, finding.line, finding.last_line) is None or (
            finding.suggestion is not None
        )
        if needs_file and finding.path not in self._files:
            self._read_file(finding.path)
        view = FindingView(
            finding=finding,
            members=self.browser.members.get(finding.id, ()),
            triage=self.browser.triage(finding.id),
            state=self.browser,
            file=file,
            file_text=self._files.get(finding.path),
        )
        detail.show(view, "")

    @work(group="files")
    async def _read_file(self, path: str) -> None:
        self._files[path] = None  # asked once, even if it cannot be read
        self._files[path] = await self.review_run.read_new_file(path)
        self._show_detail(self.query_one(FindingsTable).selected_id)

    def action_accept(self) -> None:
        finding = self._selected_finding()
        if finding is None:
            return
        accepted = self.browser.toggle_accepted(finding.id)
        self._after_triage(f"{'Accepted' if accepted else 'Unaccepted'}: {finding.title}")

    def action_dismiss(self) -> None:
        finding = self._selected_finding()
        if finding is None:
            return
        if self.browser.triage(finding.id) is Triage.DISMISSED:
            self._write_dismissal(finding, None)  # dismissing again restores it
            return

        def dismissed(reason: str | None) -> None:
            if reason is not None:
                self._write_dismissal(finding, reason)

        self.push_screen(DismissScreen(finding.title), dismissed)

    @work(group="dismissals")
    async def _write_dismissal(self, finding: ReviewFinding, reason: str | None) -> None:
        repo = self.overview.repo
        try:
            if reason is None:
                updated = await anyio.to_thread.run_sync(dismissals.restore, repo, finding.id)
                message = f"Restored: {finding.title}"
            else:
                updated = await anyio.to_thread.run_sync(
                    lambda: dismissals.dismiss(repo, finding, reason, today=self._today())
                )
                message = f"Dismissed ({dismissals.DISMISSED_FILE}): {finding.title}"
        except (CouncilError, OSError) as exc:
            self.notify(str(exc), title="Could not save the dismissal", severity="error")
            return
        self.browser.dismissals = updated
        self.browser.accepted.discard(finding.id)
        self._after_triage(message)

    def _after_triage(self, message: str) -> None:
        self.query_one(FindingsTable).show(self.browser)
        self.query_one(TabbedContent).get_tab(
            "review"
        ).label = f"Review ({self.browser.open_count()})"
        self.notify(message)

    def action_toggle_dismissed(self) -> None:
        shown = not self.browser.filter.show_dismissed
        self.browser.filter = replace(self.browser.filter, show_dismissed=shown)
        self.query_one(FindingsTable).show(self.browser)
        self.notify("Showing dismissed findings" if shown else "Hiding dismissed findings")

    def action_open_editor(self) -> None:
        finding = self._selected_finding()
        if finding is None:
            return
        argv = editor_command(
            editor_from(self._env), self.overview.repo / finding.path, finding.line
        )
        try:
            with self.suspend():
                code = self._launch_editor(argv)
        except SuspendNotSupported:
            code = self._launch_editor(argv)
        if code != 0:
            self.notify(f"{argv[0]} exited with {code}", severity="warning")

    def action_copy_markdown(self) -> None:
        finding = self._selected_finding()
        if finding is None:
            return
        members = self.browser.members.get(finding.id, ())
        self.copy_to_clipboard(finding_markdown(finding, members))
        self.notify(f"Copied as Markdown: {finding.title}")

    def action_export(self) -> None:
        if self.review is None:
            self.notify("The review can be exported once the sessions have finished.")
            return

        def chosen(answer: tuple[str, Path] | None) -> None:
            if answer is not None:
                self._export(*answer)

        self.push_screen(ExportScreen(self.overview.repo), chosen)

    @work(group="export")
    async def _export(self, fmt: str, path: Path) -> None:
        assert self.review is not None
        review = exported_review(
            self.review,
            self.browser.members,
            self.browser.dismissals,
            show_dismissed=self.overview.show_dismissed,
        )
        target = path if path.is_absolute() else self.overview.repo / path
        text = REPORTERS[fmt](review)
        try:
            await anyio.Path(target).write_text(text, encoding="utf-8")
        except OSError as exc:
            self.notify(f"Cannot write {target}: {exc.strerror}", severity="error")
            return
        self.notify(f"Wrote {target}")

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_focus_list(self) -> None:
        self.query_one(FindingsTable).focus()

    # -- app-wide ------------------------------------------------------------------------

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        if tab == "live":
            self.query_one(ReviewerTable).focus()
        else:
            self.query_one(FindingsTable).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # Focus follows the tab, so the tab's keys (its bindings) apply.
        pane = event.pane.id
        if pane == "live":
            self.query_one(ReviewerTable).focus()
        elif pane == "review":
            self.query_one(FindingsTable).focus()

    def action_help(self) -> None:
        def keys(bindings: list[BindingType]) -> list[tuple[str, str]]:
            return [
                (self.get_key_display(b), b.tooltip or b.description)
                for b in bindings
                if isinstance(b, Binding) and b.tooltip
            ]

        self.push_screen(
            HelpScreen(
                [
                    ("Live view (1)", keys(LivePane.BINDINGS)),
                    ("Review browser (2)", keys(ReviewPane.BINDINGS)),
                    ("Everywhere", keys(self.BINDINGS) + list(TABLE_KEYS)),
                ]
            )
        )

    async def action_quit(self) -> None:
        if self._quitting or self._active_runs == 0:
            # A second quit while cancelling does not wait any longer.
            self.exit(EXIT_INTERRUPTED if self._quitting else EXIT_OK)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._quitting = True
                self._note = "cancelling sessions before quitting…"
                self.review_run.cancel_all()
                self._schedule_repaint()

        running = sum(1 for s in self.state.sessions.values() if not s.state.finished)
        self.push_screen(
            ConfirmScreen(
                f"{running} session(s) are still running or queued. Cancel them and quit?",
                yes="Cancel and quit",
                no="Keep reviewing",
            ),
            answered,
        )


def _log_title(sessions: list[SessionRow]) -> Text:
    first = sessions[0]
    title = Text(f" {first.plan.agent}", style="bold")
    if len(sessions) == 1 and first.plan.chunk_count > 1:
        title.append(f" {first.plan.chunk_label}")
    states = sorted({s.state.value for s in sessions})
    title.append(f" · {', '.join(states)}", style="#8a8a8a")
    paths = sorted({p for s in sessions for p in s.plan.paths})
    if paths:
        title.append(f" · {', '.join(paths)}", style="#87afd7")
    return title
