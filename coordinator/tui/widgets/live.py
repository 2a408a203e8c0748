"""Live view widgets: the run summary, one row per reviewer (and chunk), a session's log.

They show ``state.RunState`` as the app hands it down and post what the user picks;
they never talk to the run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, NamedTuple

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Label, ProgressBar
from textual.widgets.data_table import ColumnKey

from coordinator.events import Usage
from coordinator.tui import render
from coordinator.tui.state import ReviewerRow, RowState, RunState, SessionRow
from coordinator.tui.widgets.stream_log import StreamLog
from coordinator.tui.widgets.table import RowCachedTable

AGENT_ROW = "agent:"
SESSION_ROW = "session:"
COLUMNS = (
    ("reviewer", "Reviewer", 20),
    ("state", "State", 11),
    ("time", "Time", 6),
    ("tools", "Tools", 5),
    ("detail", "Latest tool / note", 0),  # takes the width the others leave
    ("tin", "In", 6),
    ("tout", "Out", 6),
    ("cost", "Cost", 8),
    ("findings", "Found", 5),
)
_OTHERS = sum(width for _key, _label, width in COLUMNS) + 2 * len(COLUMNS) + 1


class RunSummary(Horizontal):
    """One line: what is reviewed, sessions done, running cost, findings; a progress bar."""

    _shown: Text | None = None

    def compose(self) -> ComposeResult:
        yield Label(id="summary-text")
        yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="summary-progress")

    def show(self, state: RunState, source: str, findings: int, note: str) -> None:
        totals = state.totals()
        text = Text()
        text.append(source or "review", style="bold #87afd7")
        text.append(f"  {totals.finished}/{totals.sessions} done")
        if totals.running:
            text.append(f" · {totals.running} running", style="#5fd7ff")
        if totals.failed:
            text.append(f" · {totals.failed} failed", style="#ff5f5f")
        text.append(f" · {render.cost(totals.usage.cost_usd)}", style="bold")
        text.append(f" · {findings} finding{'s' if findings != 1 else ''}")
        if note:
            text.append(f" · {note}", style="italic #ffaf00")
        if text != self._shown:  # repainted ~10 times a second: touch the screen on change only
            self._shown = text
            # Its size is fixed by the style sheet: no re-layout of the whole screen.
            self.query_one("#summary-text", Label).update(text, layout=False)
            bar = self.query_one("#summary-progress", ProgressBar)
            bar.update(total=max(1, totals.sessions), progress=totals.finished)


class ReviewerTable(RowCachedTable[Text | str]):
    """Reviewers with their chunks beneath when they have several. Rows are keyed
    ``agent:NAME`` and ``session:KEY``."""

    class Picked(Message):
        """The highlighted row changed: these sessions are the ones to show."""

        def __init__(self, row_key: str) -> None:
            self.row_key = row_key
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", id=id)
        self._state: RunState | None = None
        self._width = 0
        self._shown: dict[str, _RowFacts] = {}  # by row key: what its cells were built from

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(label, width=width or 20, key=key)

    def on_resize(self) -> None:
        if self._state is not None and self.size.width != self._width:
            self.rebuild(self._state)

    def watch_show_vertical_scrollbar(self, shown: bool) -> None:
        # The scrollbar takes columns from the table: fit the detail column again,
        # or the last column would hang off the edge behind a horizontal scrollbar.
        if self._state is not None:
            self.rebuild(self._state)

    @property
    def detail_width(self) -> int:
        bar = self.styles.scrollbar_size_vertical if self.show_vertical_scrollbar else 0
        return max(16, self.size.width - bar - _OTHERS)

    @property
    def selected_key(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def rebuild(self, state: RunState) -> None:
        """All rows again (the set of sessions changed); keeps the cursor on its row."""
        keep = self.selected_key
        self._state, self._width = state, self.size.width
        self.columns[ColumnKey("detail")].width = self.detail_width
        self.clear()
        self._shown.clear()
        now = state.now()
        for agent in state.agents:
            reviewer = state.reviewer(agent)
            self._add(AGENT_ROW + agent, _reviewer_facts(reviewer, now))
            if len(reviewer.sessions) > 1:
                for session in reviewer.sessions:
                    self._add(SESSION_ROW + session.key, _session_facts(session, now))
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _add(self, row_key: str, facts: _RowFacts) -> None:
        self._shown[row_key] = facts
        self.add_row(*_cells(facts), key=row_key)

    def refresh_rows(self, state: RunState, dirty: Iterable[str]) -> None:
        """Update only the cells that changed: of what had events, and the running clocks."""
        now = state.now()
        keys = set(dirty)
        keys.update(k for k, s in state.sessions.items() if s.state in _LIVE)
        agents = {state.sessions[k].plan.agent for k in keys if k in state.sessions}
        for key in keys:
            row_key = SESSION_ROW + key
            if row_key in self.rows:
                self._set(row_key, _session_facts(state.sessions[key], now))
        for agent in agents:
            self._set(AGENT_ROW + agent, _reviewer_facts(state.reviewer(agent), now))

    def _set(self, row_key: str, facts: _RowFacts) -> None:
        if self._shown.get(row_key) != facts:  # most events (streamed text) change no cell
            self._shown[row_key] = facts
            self.set_cells(row_key, _COLUMN_KEYS, _cells(facts))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Picked(event.row_key.value))


_LIVE = (RowState.RUNNING, RowState.RETRYING)
PENDING_LINE = 240  # characters of an unfinished line held back while chunks interleave
_COLUMN_KEYS = tuple(key for key, _label, _width in COLUMNS)


def _detail(state: RowState, last_tool: str, note: str) -> Text:
    """The latest tool or note; "…" says where the column cut it (the log has it all)."""
    if state in (RowState.FAILED, RowState.RETRYING, RowState.CANCELLED) and note:
        color = "#ff8787" if state is RowState.FAILED else "#d7af5f"
        return Text(note, style=color, overflow="ellipsis")
    if note and state is RowState.RUNNING:
        return Text(note, style="italic #ffaf00", overflow="ellipsis")
    return Text(last_tool, style="#bcbcbc", overflow="ellipsis")


def _numbers(tin: int, tout: int, usd: float, found: int) -> list[Text | str]:
    return [
        Text(render.tokens(tin), justify="right"),
        Text(render.tokens(tout), justify="right"),
        Text(render.cost(usd), justify="right"),
        Text(str(found), justify="right", style="bold" if found else "#6c6c6c"),
    ]


class _RowFacts(NamedTuple):
    """All a row's cells are made of: comparing these is far cheaper than building cells."""

    name: str  # the reviewer; for a session row, its chunk ("1/3 ")
    more: str  # the reviewer's sessions finished ("2/3"); the session's paths
    is_session: bool
    state: RowState
    elapsed: str
    tool_calls: int
    last_tool: str
    note: str
    usage: Usage
    findings: int


def _reviewer_facts(reviewer: ReviewerRow, now: float) -> _RowFacts:
    several = len(reviewer.sessions) > 1
    return _RowFacts(
        reviewer.agent,
        f"{reviewer.finished}/{len(reviewer.sessions)}" if several else "",
        False,
        reviewer.state,
        render.elapsed(reviewer.elapsed(now)),
        reviewer.tool_calls,
        reviewer.last_tool,
        reviewer.note,
        reviewer.usage,
        reviewer.findings,
    )


def _session_facts(session: SessionRow, now: float) -> _RowFacts:
    plan = session.plan
    return _RowFacts(
        f"{plan.chunk_label} ",
        ", ".join(plan.paths),
        True,
        session.state,
        render.elapsed(session.elapsed(now)),
        session.tool_calls,
        session.last_tool,
        session.note,
        session.total_usage,
        session.findings,
    )


def _cells(row: _RowFacts) -> list[Text | str]:
    if row.is_session:
        name = Text(f"  └ {row.name}", style="#8a8a8a")
        name.append(row.more, style="#8a8a8a")
        name.truncate(COLUMNS[0][2], overflow="ellipsis")
    else:
        name = Text(row.name, style="bold")
        if row.more:
            name.append(f" {row.more}", style="#8a8a8a")
    usage = row.usage
    return [
        name,
        render.state_text(row.state),
        Text(row.elapsed, justify="right"),
        Text(str(row.tool_calls), justify="right"),
        _detail(row.state, row.last_tool, row.note),
        *_numbers(usage.tokens_in, usage.tokens_out, usage.cost_usd, row.findings),
    ]


class SessionLog(Vertical):
    """The picked sessions' streamed text and tool calls, appended as they arrive."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._keys: tuple[str, ...] = ()
        self._written: dict[str, int] = {}
        self._pending: dict[str, str] = {}  # by session: its line still being written
        self._title: Text | None = None

    def compose(self) -> ComposeResult:
        yield Label(id="log-title")
        yield StreamLog(id="log-text", max_lines=20_000)

    def follow(self, sessions: list[SessionRow], title: Text) -> None:
        """Show these sessions from the start of what is kept."""
        self._keys = tuple(s.key for s in sessions)
        self._written = {}
        self._pending = {}
        self.query_one("#log-text", StreamLog).clear()
        self.retitle(title)
        self.append_new(sessions)

    def retitle(self, title: Text) -> None:
        if title != self._title:  # asked on each repaint that had text for the log
            self._title = title
            self.query_one("#log-title", Label).update(title, layout=False)  # fixed size

    @property
    def keys(self) -> tuple[str, ...]:
        return self._keys

    def append_new(self, sessions: list[SessionRow]) -> None:
        """Write what the sessions added since last time.

        One session streams as it comes. Several (a reviewer's chunks) are shown a
        whole line at a time, each line marked with its chunk ("2/5 │"), so pieces
        of text arriving from all of them at once do not cut into each other's
        sentences; a line still being written waits for its end, for
        ``PENDING_LINE`` characters, or for its session to finish.
        """
        new: list[str] = []  # written at once: each write re-wraps a line and scrolls
        several = len(self._keys) > 1
        for session in sessions:
            transcript = session.transcript
            seen = self._written.get(session.key, transcript.first)
            text = ""
            if seen < transcript.first:
                # Older text was dropped from memory: say so instead of pretending.
                text = f"[… {transcript.first - seen} earlier pieces dropped …]\n"
                text = text if several else "\n" + text
            text += "".join(transcript.since(seen))
            self._written[session.key] = transcript.end
            if not several:
                new.append(text)
                continue
            text = self._pending.pop(session.key, "") + text
            if not session.state.finished:
                cut = text.rfind("\n") + 1
                if len(text) - cut < PENDING_LINE:
                    text, self._pending[session.key] = text[:cut], text[cut:]
            if text:
                mark = f"{session.plan.chunk_label} │ "
                new.extend(f"{mark}{line}\n" for line in text.removesuffix("\n").split("\n"))
        if any(new):
            self.query_one("#log-text", StreamLog).write("".join(new))


class LivePane(Vertical):
    """The live view; its bindings apply while focus is inside it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "c", "app.cancel_selected", "Cancel", tooltip="Cancel the selected reviewer or chunk"
        ),
        Binding("C", "app.cancel_all", "Cancel all", tooltip="Cancel every session still running"),
        Binding(
            "r", "app.rerun_selected", "Re-run", tooltip="Run a failed or cancelled reviewer again"
        ),
    ]
