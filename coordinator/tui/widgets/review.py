"""Review browser widgets: filters, the ranked list and the finding detail.

The app hands down ``browse.BrowserState`` and what it read from disk; these widgets
render it and post what the user picked or typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.markdown import Markdown
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Select, Static
from textual.widgets.data_table import ColumnKey

from coordinator.diff.model import DiffFile
from coordinator.findings import ReportedFinding, ReviewFinding, Severity
from coordinator.tui import render
from coordinator.tui.browse import BrowserState, Triage

_MARKS = {Triage.OPEN: "", Triage.ACCEPTED: "✓", Triage.DISMISSED: "✗"}
_PADDING = 2 * 5 + 1  # each of the five columns' cell padding, and the scrollbar
_MAX_LOCATION, _MAX_REVIEWERS = 26, 28


class FilterBar(Horizontal):
    """Search text, minimum severity, reviewer and path; posts ``Changed`` on each edit."""

    class Changed(Message):
        def __init__(
            self, text: str, min_severity: Severity | None, reviewer: str | None, path: str
        ) -> None:
            self.text, self.min_severity, self.reviewer, self.path = (
                text,
                min_severity,
                reviewer,
                path,
            )
            super().__init__()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="search (/)", id="search")
        yield Select(
            [(f"{s.value}+" if s is not Severity.CRITICAL else s.value, s) for s in Severity],
            prompt="any severity",
            id="severity",
        )
        yield Select[str]([], prompt="any reviewer", id="reviewer")
        yield Input(placeholder="path or glob", id="path")

    def set_reviewers(self, names: Sequence[str]) -> None:
        select: Select[str] = self.query_one("#reviewer", Select)
        keep = select.value
        select.set_options([(n, n) for n in names])
        if isinstance(keep, str) and keep in names:
            select.value = keep

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._post()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._post()

    def _post(self) -> None:
        severity = self.query_one("#severity", Select).value
        reviewer = self.query_one("#reviewer", Select).value
        self.post_message(
            self.Changed(
                text=self.query_one("#search", Input).value,
                min_severity=severity if isinstance(severity, Severity) else None,
                reviewer=reviewer if isinstance(reviewer, str) else None,
                path=self.query_one("#path", Input).value,
            )
        )


class FindingsTable(DataTable[Text | str]):
    """The ranked findings; rows are keyed by finding id."""

    class Picked(Message):
        def __init__(self, finding_id: str | None) -> None:
            self.finding_id = finding_id
            super().__init__()

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", id=id)
        self._state: BrowserState | None = None
        self._width = 0

    def on_resize(self) -> None:
        # The title column takes what the others leave: recompute when that changes.
        if self._state is not None and self.size.width != self._width:
            self._width = self.size.width
            self.show(self._state)

    def on_mount(self) -> None:
        self.add_column(" ", width=1, key="mark")
        self.add_column("Sev", width=4, key="severity")
        self.add_column("Finding", width=30, key="title")
        self.add_column("Location", width=24, key="location")
        self.add_column("Reviewers", width=16, key="reviewers")

    @property
    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def show(self, state: BrowserState) -> None:
        """Rows for the visible findings; the cursor stays on the same finding if it can."""
        self._state = state
        keep = self.selected_id
        visible = state.visible()
        location = min(_MAX_LOCATION, max([8, *(len(render.location(f)) for f in visible)]))
        names = min(_MAX_REVIEWERS, max([9, *(len(", ".join(f.reviewers)) for f in visible)]))
        title_width = max(16, self.size.width - _PADDING - 1 - 4 - location - names)
        for key, width in (("title", title_width), ("location", location), ("reviewers", names)):
            self.columns[ColumnKey(key)].width = width
        self.clear()
        for f in visible:
            triage = state.triage(f.id)
            style = "#6c6c6c" if triage is Triage.DISMISSED else ""
            title = Text(f.title, style=style)
            title.truncate(title_width, overflow="ellipsis")
            self.add_row(
                Text(_MARKS[triage], style="bold"),
                render.severity_text(f.severity),
                title,
                _cut(render.location(f), location, "#87afd7"),
                _cut(", ".join(f.reviewers), names, "#a8a8a8"),
                key=f.id,
            )
        if keep is not None and keep in self.rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)
        self.post_message(self.Picked(self.selected_id))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self.post_message(self.Picked(event.row_key.value))


@dataclass(frozen=True)
class FindingView:
    """Everything the detail pane shows about one finding."""

    finding: ReviewFinding
    members: tuple[ReportedFinding, ...]
    triage: Triage
    state: BrowserState
    file: DiffFile | None
    file_text: str | None  # None until read (or when it cannot be)


class FindingDetail(VerticalScroll):
    """The picked finding: header, body, code in the diff, suggestion, reviewers' words."""

    def compose(self) -> ComposeResult:
        yield Static(id="detail-header")
        yield Static(id="detail-body")
        yield Static(id="detail-code")
        yield Static(id="detail-suggestion")
        yield Static(id="detail-wording")

    def show(self, view: FindingView | None, empty: str) -> None:
        if view is None:
            self._fill(Text(empty, style="#8a8a8a"), None, None, None, None)
            return
        f = view.finding
        header = render.finding_header(f, view.triage.value, view.state.dismissal(f.id))
        body: RenderableType | None = Markdown(f.body) if f.body else None
        code = _section("In the diff", render.code_context(f, view.file, view.file_text))
        suggestion = None
        if f.suggestion is not None:
            current = render.current_lines(f, view.file, view.file_text)
            suggestion = _section("Suggested change", render.suggestion_diff(f, current))
        wording = None
        if view.members:
            wording = _section("Reported by", render.wording(view.members))
        self._fill(header, body, code, suggestion, wording)

    def _fill(self, *parts: RenderableType | None) -> None:
        ids = ("header", "body", "code", "suggestion", "wording")
        for name, part in zip(ids, parts, strict=True):
            static = self.query_one(f"#detail-{name}", Static)
            static.display = part is not None
            static.update(part if part is not None else "")


def _section(title: str, content: RenderableType) -> RenderableType:
    return Group(Text(title, style="bold underline"), content)


class ReviewPane(Vertical):
    """The review browser; its bindings apply while focus is inside it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "app.accept", "Accept", tooltip="Mark the finding accepted (again to undo)"),
        Binding(
            "d",
            "app.dismiss",
            "Dismiss",
            tooltip="Dismiss with a reason, kept in .council/dismissed.toml (again to restore)",
        ),
        Binding("e", "app.open_editor", "Editor", tooltip="Open the file at the line in $EDITOR"),
        Binding("y", "app.copy_markdown", "Copy MD", tooltip="Copy the finding as Markdown"),
        Binding("x", "app.export", "Export", tooltip="Export the review as Markdown or JSON"),
        Binding("slash", "app.focus_search", "Search", tooltip="Search titles, bodies and paths"),
        Binding("D", "app.toggle_dismissed", "Show dismissed", tooltip="Show or hide dismissed"),
        Binding("escape", "app.focus_list", "List", show=False, tooltip="Back to the list"),
    ]


def _cut(text: str, width: int, style: str) -> Text:
    out = Text(text, style=style)
    out.truncate(width, overflow="ellipsis")
    return out
