"""A DataTable that draws again only the cells and rows that changed.

Textual's DataTable keys every render cache by one table-wide counter that each
``update_cell`` bumps, so after any update it draws every visible cell again
(Rich's pipeline: ~0.1 ms a cell) and keeps the stale drawings until they are
evicted (10,000 cells, 1,000 rows and lines: ~150,000 objects that each full pass
of the cyclic GC walks, 100-270 ms with the event loop stopped). With 50 busy
sessions the live view's table changes at every repaint: that was most of the loop.

``RowCachedTable.set_cells`` updates a row and drops the drawings of just that
row and its changed cells. Those are trusted only while the counter moves through
``set_cells`` alone: any other change (rows added, sorted, removed; a resize) or
DataTable emptying its own caches (restyle, cursor or header settings) forgets
them all. DataTable's own caches are emptied once stale, so they stay small.

This overrides DataTable internals (``_render_cell``, ``_render_line``,
``_clear_caches``, the counter and the cache attributes), as of Textual 8;
tests/test_tui_table.py checks that it draws what a plain DataTable draws.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

from rich.style import Style
from textual._types import SegmentLines
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CursorType, RowKey

CellType = TypeVar("CellType")
_VARIANTS = 4  # drawings kept of one cell or line: with the cursor on it or not, focus, hover


class RowCachedTable(DataTable[CellType], Generic[CellType]):
    """Update rows with ``set_cells``; the rest of DataTable's API works as before."""

    def __init__(self, *, cursor_type: CursorType = "cell", id: str | None = None) -> None:
        super().__init__(cursor_type=cursor_type, id=id)
        self._cells_drawn: dict[tuple[int, int], dict[Hashable, SegmentLines]] = {}
        self._lines_drawn: dict[RowKey, dict[Hashable, Strip]] = {}
        self._own_count = 0  # DataTable's update counter after our last set_cells
        self._synced_count = 0  # ... when we last checked it
        self._frame_style: Style | None = None  # rich_style while a frame is drawn

    def render_lines(self, crop: Region) -> list[Strip]:
        # DataTable asks for rich_style once a line, and each time it walks every
        # ancestor's styles (~0.1 ms): a third of drawing a line. It cannot change
        # while the lines of one frame are drawn.
        self._frame_style = super().rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    @property
    def rich_style(self) -> Style:
        return self._frame_style if self._frame_style is not None else super().rich_style

    def set_cells(self, row_key: str, columns: Sequence[str], values: Sequence[CellType]) -> bool:
        """Update the row's cells that differ from ``values``; False when none did."""
        self._sync_drawn()
        changed = False
        for column, value in zip(columns, values, strict=True):
            if self.get_cell(row_key, column) != value:
                self.update_cell(row_key, column, value)
                at = self.get_cell_coordinate(row_key, column)
                self._cells_drawn.pop((at.row, at.column), None)
                changed = True
        if changed:
            self._lines_drawn.pop(RowKey(row_key), None)
            self._own_count = self._update_count
        return changed

    def _sync_drawn(self) -> None:
        count = self._update_count
        if count == self._synced_count:
            return
        if count != self._own_count:  # changed other than through set_cells
            self._forget_drawn()
        # Keyed by an older count: nothing in these will be used again.
        self._cell_render_cache.clear()
        self._row_render_cache.clear()
        self._row_renderable_cache.clear()
        self._line_cache.clear()
        self._own_count = self._synced_count = count

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
        how = (
            base_style,
            width,
            cursor,
            hover,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        drawn = self._cells_drawn.setdefault((row_index, column_index), {})
        lines = drawn.get(how)
        if lines is None:
            lines = super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
            _keep(drawn, how, lines)
        return lines

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        self._sync_drawn()
        try:
            row_key, line_in_row = self._get_offsets(y)
        except LookupError:  # below the last row
            return super()._render_line(y, x1, x2, base_style)
        how = (
            y,
            line_in_row,
            x1,
            x2,
            self.size.width,
            base_style,
            self.cursor_coordinate,
            self.hover_coordinate,
            self.cursor_type,
            self.show_cursor,
            self._show_hover_cursor,
            self._pseudo_class_state,
        )
        drawn = self._lines_drawn.setdefault(row_key, {})
        strip = drawn.get(how)
        if strip is None:
            strip = super()._render_line(y, x1, x2, base_style)
            _keep(drawn, how, strip)
        return strip


_T = TypeVar("_T")


def _keep(drawn: dict[Hashable, _T], how: Hashable, drawing: _T) -> None:
    if len(drawn) >= _VARIANTS:
        drawn.clear()  # the cursor or the mouse passed by: keep what is drawn now
    drawn[how] = drawing
