"""A DataTable that draws again only the cells and rows that changed.

Textual's DataTable keys every render cache by one table-wide counter that each
``update_cell`` bumps, so after any update it draws every visible cell again
(Rich's pipeline: ~0.1 ms a cell) and keeps the stale drawings until they are
evicted (10,000 cells, 1,000 rows and lines: ~150,000 objects that each full pass
of the cyclic GC walks, 100-270 ms with the event loop stopped). With 50 busy
sessions the live view's table changes at every repaint: that was most of the loop.

``RowCachedTable.set_cells`` updates a row without moving that counter, drops
the drawings of just that row and its changed cells, and marks only the row's
lines for repainting. Any other change (rows added, sorted, removed; a resize)
moves the counter, or has DataTable empty its own caches (restyle, cursor or
header settings), and then every drawing is forgotten. DataTable's own caches
are emptied at each change, so they stay small.

Drawing a changed row is cheap too. For the table's common shape (a row cursor,
one-line rows; no row labels, fixed rows or columns, zebra stripes) a row is put
together from facts worked out once a frame (column widths, the space right of the
table), and a one-line Text cell goes through Rich's own wrap and Text rendering
but skips the Padding/Styled/render_lines layers around them, which DataTable
builds anew for every cell: ~0.5 ms a changed row before, the most of a frame
under load. Anything else (the header, a cell that would wrap or is not Text)
takes DataTable's path.

This overrides DataTable internals (``_render_cell``, ``_render_line``,
``_render_line_in_row``, ``_clear_caches``, the counter and the cache attributes),
as of Textual 8; tests/test_tui_table.py checks that it draws what a plain
DataTable draws.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, NamedTuple, TypeVar

from rich.console import Console, ConsoleOptions
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._types import SegmentLines
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, CursorType, RowKey

CellType = TypeVar("CellType")
_VARIANTS = 4  # drawings kept of one cell or line: with the cursor on it or not, focus, hover


class _Frame(NamedTuple):
    """What cannot change while the lines of one frame are drawn."""

    style: Style  # the widget's rich_style
    widths: tuple[int, ...]  # each column's width, padding included
    remaining: int  # the widget's width right of the last column
    quick: bool  # the table's shape is one the quick path draws
    console: Console
    options: ConsoleOptions
    padding: int  # cell_padding
    cursor: tuple[bool, bool, bool, bool]  # how the cursor shows: _cursor_facts()


class RowCachedTable(DataTable[CellType], Generic[CellType]):
    """Update rows with ``set_cells``; the rest of DataTable's API works as before."""

    def __init__(self, *, cursor_type: CursorType = "cell", id: str | None = None) -> None:
        super().__init__(cursor_type=cursor_type, id=id)
        self._cells_drawn: dict[tuple[int, int], dict[Hashable, SegmentLines]] = {}
        self._lines_drawn: dict[RowKey, dict[Hashable, Strip]] = {}
        self._synced_count = 0  # DataTable's update counter when we last checked it
        self._frame: _Frame | None = None  # while a frame is drawn

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame = self._frame_facts()
        try:
            return super().render_lines(crop)
        finally:
            self._frame = None

    def _frame_facts(self) -> _Frame:
        # DataTable asks for rich_style once a line, and each time it walks every
        # ancestor's styles (~0.1 ms); the widths it sums once a cell.
        widths = tuple(column.get_render_width(self) for column in self.ordered_columns)
        table_width = sum(widths[self.fixed_columns :]) + self._row_label_column_width
        return _Frame(
            style=super().rich_style,
            widths=widths,
            remaining=max(0, self.size.width - table_width),
            quick=self.cursor_type == "row"
            and not (self.zebra_stripes or self.fixed_rows or self.fixed_columns)
            and not (self._labelled_row_exists and self.show_row_labels),
            console=self.app.console,
            options=self.app.console_options,
            padding=self.cell_padding,
            cursor=self._cursor_facts(),
        )

    def _cursor_facts(self) -> tuple[bool, bool, bool, bool]:
        return (
            self.show_cursor,
            self._show_hover_cursor,
            self.cursor_foreground_priority == "css",
            self.cursor_background_priority == "css",
        )

    @property
    def rich_style(self) -> Style:
        frame = self._frame
        return frame.style if frame is not None else super().rich_style

    def set_cells(self, row_key: str, columns: Sequence[str], values: Sequence[CellType]) -> bool:
        """Update the row's cells that differ from ``values``; False when none did.

        Unlike ``update_cell``, which has the whole table drawn again, this marks only
        the row's own lines for repainting while the table is on screen.
        """
        self._sync_drawn()
        key = RowKey(row_key)
        row_index = self._row_locations.get(key)
        if row_index is None:
            raise CellDoesNotExist(f"No row with key {row_key!r}.")
        if len(columns) != len(values):
            raise ValueError(f"{len(columns)} columns but {len(values)} values.")
        at: list[tuple[ColumnKey, int]] = []  # all checked before anything is written
        for column in columns:
            column_index = self._column_locations.get(ColumnKey(column))
            if column_index is None:
                raise CellDoesNotExist(f"No column with key {column!r}.")
            at.append((ColumnKey(column), column_index))
        cells = self._data[key]
        changed = False
        for (column_key, column_index), value in zip(at, values, strict=True):
            if _looks(cells[column_key]) != _looks(value):
                cells[column_key] = value
                self._cells_drawn.pop((row_index, column_index), None)
                changed = True
        if changed:
            # Not update_cell's way: bumping DataTable's counter would make it drop
            # everything it keyed by it, the row order and line offsets included.
            # Only this row's drawings are stale; DataTable's are all dropped, as
            # they hold no more than what took its own path since the last change.
            self._row_renderable_cache.discard((self._update_count, row_index))
            self._clear_datatable_drawings()
            self._lines_drawn.pop(key, None)
            self._repaint_row(row_index)
        return changed

    def _repaint_row(self, row_index: int) -> None:
        if not self.window_region or row_index < self.fixed_rows:
            # Hidden (an inactive tab), Textual would show its old lines when the
            # table comes back; refresh_row shifts fixed rows by the scroll.
            self.refresh()
        else:
            self.refresh_row(row_index)

    def _sync_drawn(self) -> None:
        count = self._update_count
        if count != self._synced_count:  # changed other than through set_cells
            self._forget_drawn()
            self._clear_datatable_drawings()
            self._row_renderable_cache.clear()
            self._synced_count = count

    def _clear_datatable_drawings(self) -> None:
        self._cell_render_cache.clear()
        self._row_render_cache.clear()
        self._line_cache.clear()

    def _forget_drawn(self) -> None:
        self._cells_drawn.clear()
        self._lines_drawn.clear()

    def _clear_caches(self) -> None:
        super()._clear_caches()
        self._forget_drawn()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._forget_drawn()

    def _render_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool = False,
        hover: bool = False,
    ) -> SegmentLines:
        self._sync_drawn()
        frame = self._frame
        shows = frame.cursor if frame else self._cursor_facts()
        how = (base_style, width, cursor, hover, shows, self._pseudo_class_state)
        drawn = self._cells_drawn.setdefault((row_index, column_index), {})
        lines = drawn.get(how)
        if lines is None:
            lines = self._quick_cell(row_index, column_index, base_style, width, cursor, hover)
            if lines is None:
                lines = super()._render_cell(
                    row_index, column_index, base_style, width, cursor, hover
                )
            _keep(drawn, how, lines)
        return lines

    def _quick_cell(
        self,
        row_index: int,
        column_index: int,
        base_style: Style,
        width: int,
        cursor: bool,
        hover: bool,
    ) -> SegmentLines | None:
        """What DataTable draws for a one-line Text cell of a body row, or None.

        DataTable renders ``Styled(Padding(cell), pre_style, post_style)`` through
        ``console.render_lines``. Those layers only pad the text's line and put the
        styles around each segment, so this does just that, around the same
        ``Text.wrap`` and ``Text.render`` calls that Text's own rendering makes.
        """
        frame = self._frame
        if frame is None or not frame.quick or row_index < 0 or column_index < 0:
            return None
        row_key = self._row_locations.get_key(row_index)
        row = self.rows.get(row_key) if row_key is not None else None
        if row is None or row.height != 1:
            return None
        cell = self._get_row_renderables(row_index).cells[column_index]
        if type(cell) is not Text:  # a subclass may draw itself another way
            return None
        console, options = frame.console, frame.options
        pad = frame.padding
        inner = width - 2 * pad
        overflow = cell.overflow or options.overflow or "fold"
        if inner < 1 or overflow == "ignore" or cell.end not in ("", "\n"):
            return None
        tab_size = console.tab_size if cell.tab_size is None else cell.tab_size
        lines = cell.wrap(
            console,
            inner,
            justify=cell.justify or options.justify or "default",
            overflow=overflow,
            tab_size=tab_size or 8,
            no_wrap=True if cell.no_wrap is None else cell.no_wrap,  # one-line rows: no_wrap
        )
        if len(lines) != 1:
            return None
        padding = _PADDING_STYLE
        text = Segment.adjust_line_length(
            list(Text("\n").join(lines).render(console)), inner, style=padding, pad=True
        )
        padded = [Segment(" " * pad, padding), *text, Segment(" " * pad, padding)] if pad else text
        component, post = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, *frame.cursor
        )
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
        styled = list(Segment.apply_style(padded, pre, post))
        return [Segment.adjust_line_length(styled, width, pad=True)]

    def _render_line_in_row(
        self,
        row_key: RowKey,
        line_no: int,
        base_style: Style,
        cursor_location: Coordinate,
        hover_location: Coordinate,
    ) -> tuple[SegmentLines, SegmentLines]:
        frame = self._frame
        row_index = self._row_locations.get(row_key)  # None for the header
        if frame is None or not frame.quick or row_index is None:
            return super()._render_line_in_row(
                row_key, line_no, base_style, cursor_location, hover_location
            )
        # DataTable's steps for a row-cursor table without labels, fixed parts or stripes.
        on_cursor = row_index == cursor_location.row
        hovered = row_index == hover_location.row
        cells = [
            self._render_cell(row_index, column_index, base_style, width, on_cursor, hovered)[
                line_no
            ]
            for column_index, width in enumerate(frame.widths)
        ]
        show_cursor, show_hover, _, _ = frame.cursor
        extend, _ = self._get_styles_to_render_cell(
            False, False, False, hovered, on_cursor, show_cursor, show_hover, False, False
        )
        out = Style.from_meta({"row": row_index, "column": 0, "out_of_bounds": True})
        cells.append([Segment(" " * frame.remaining, base_style + extend + out)])
        return [], cells

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        self._sync_drawn()
        try:
            row_key, line_in_row = self._get_offsets(y)
        except LookupError:  # below the last row
            return super()._render_line(y, x1, x2, base_style)
        frame = self._frame
        how = (
            y,
            line_in_row,
            x1,
            x2,
            self.size.width,
            frame.widths if frame else None,  # a column's width set in place
            base_style,
            self.cursor_coordinate,
            self.hover_coordinate,
            self.cursor_type,
            frame.cursor if frame else self._cursor_facts(),
            self._pseudo_class_state,
        )
        drawn = self._lines_drawn.setdefault(row_key, {})
        strip = drawn.get(how)
        if strip is None:
            strip = super()._render_line(y, x1, x2, base_style)
            _keep(drawn, how, strip)
        return strip


def _looks(cell: object) -> object:
    """What a cell looks like: Text's own ``==`` compares only its text and spans."""
    if type(cell) is not Text:
        return cell
    t = cell
    return (t.plain, t.spans, t.style, t.justify, t.overflow, t.no_wrap, t.end, t.tab_size)


_T = TypeVar("_T")
_PADDING_STYLE = Style.null()  # what Rich's Padding draws its spaces in by default ("none")


def _keep(drawn: dict[Hashable, _T], how: Hashable, drawing: _T) -> None:
    if len(drawn) >= _VARIANTS:
        drawn.clear()  # the cursor or the mouse passed by: keep what is drawn now
    drawn[how] = drawing
