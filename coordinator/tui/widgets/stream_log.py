"""StreamLog: streamed text, wrapped to the widget's width, that can be selected.

Reviewers stream prose: a paragraph arrives in pieces and is one line of hundreds
of characters. Textual's ``Log`` shows such a line unwrapped, behind a horizontal
scrollbar; ``RichLog`` wraps, but starts a new line with each write. This keeps
the text as lines, appends each piece to the last one, and wraps each line into
rows at word boundaries; a piece re-wraps only the line it lands on.

Growing never re-lays out the screen: ``virtual_size`` is not a layout reactive
here (Textual's widgets declare it one, so each write re-flowed and re-drew every
widget, ~13 ms a write under load); the log updates its own scrollbar instead.

Selection works in the text's own coordinates: each row carries the offset of its
first character in its line, so what is selected across rows comes out as the
lines it spans.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

# Control characters, and the ones str.splitlines() would break a line at: shown
# as "�", so a line stays one line for selection and one row's worth of cells.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")
_ROW_CACHE = 256  # drawn rows kept: a few screens' worth

Row = tuple[int, int, int]  # (the line's number since the log began, start, end)


def wrap(line: str, width: int) -> list[tuple[int, int]]:
    """The rows ``line`` takes at ``width`` cells: (start, end) character offsets.

    A row breaks after its last space when it has one; a word longer than the
    width is cut. An empty line is one empty row.
    """
    if width < 1 or (len(line) <= width and (line.isascii() or cell_len(line) <= width)):
        return [(0, len(line))]
    rows: list[tuple[int, int]] = []
    start, size = 0, len(line)
    ascii_only = line.isascii()
    while start < size:
        if ascii_only:
            end = min(size, start + width)
        else:
            end, cells = start, 0
            while end < size and cells + (taken := cell_len(line[end])) <= width:
                cells += taken
                end += 1
            end = max(end, start + 1)  # a character wider than the row
        if end < size:
            space = line.rfind(" ", start, end)
            if space > start:
                end = space + 1
        rows.append((start, end))
        start = end
    return rows


class StreamLog(ScrollView, can_focus=True):
    """Append text with ``write``; it wraps, follows the end, and drops old lines."""

    ALLOW_SELECT = True
    DEFAULT_CSS: ClassVar[str] = """
    StreamLog {
        background: $surface;
        color: $text;
        overflow-x: hidden;
        overflow-y: scroll;
        &:focus {
            background-tint: $foreground 5%;
        }
    }
    """

    virtual_size: Reactive[Size] = Reactive(Size(0, 0), layout=False)

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        super().__init__(id=id)
        self._max_lines = max_lines
        self._lines: list[str] = []  # shown text: control characters replaced
        self._tail = ""  # the last line as written, which the next piece extends
        self._first = 0  # the number, since the log began, of _lines[0]
        self._rows: list[Row] = []
        self._width = 0  # the width _rows are wrapped at
        self._drawn: LRUCache[Row, Strip] = LRUCache(_ROW_CACHE)
        self._frame_style: Style | None = None  # rich_style while a frame is drawn

    @property
    def allow_select(self) -> bool:
        return True

    @property
    def lines(self) -> Sequence[str]:
        """The text kept, a line each (control characters shown as "�")."""
        return self._lines

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)

    def write(self, text: str) -> None:
        """Append ``text``: its first line continues the last one."""
        if not text:
            return
        following = self.is_vertical_scroll_end
        pieces = text.split("\n")
        if not self._lines:
            self._lines.append("")
        else:
            self._unwrap_last()
        self._tail += pieces[0]
        self._lines[-1] = _shown(self._tail)
        for piece in pieces[1:]:
            self._tail = piece
            self._lines.append(_shown(piece))
        changed_from = len(self._rows)
        first_new = len(self._lines) - len(pieces)
        for index in range(first_new, len(self._lines)):
            self._wrap_line(index)
        dropped = self._drop_oldest()
        self.virtual_size = Size(self._width, len(self._rows))
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        if dropped:  # every row moved up
            self._drawn.clear()
            self.refresh()
        else:  # a row's drawing stays good: its line only grows past its end
            self.refresh_lines(changed_from, len(self._rows) - changed_from)

    def clear(self) -> None:
        self._lines.clear()
        self._rows.clear()
        self._tail = ""
        self._first = 0
        self._drawn.clear()
        self.virtual_size = Size(self._width, 0)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self.refresh()

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._rows = []
            for index in range(len(self._lines)):
                self._wrap_line(index)
            self._drawn.clear()
            following = self.is_vertical_scroll_end
            self.virtual_size = Size(width, len(self._rows))
            if following:
                self.scroll_end(animate=False, immediate=True, x_axis=False)
            self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn.clear()

    def selection_updated(self, selection: Selection | None) -> None:
        self._drawn.clear()
        self.refresh()

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        return selection.extract("\n".join(self._lines)), "\n"

    def render_lines(self, crop: Region) -> list[Strip]:
        self._frame_style = self.rich_style  # it walks every ancestor's styles
        try:
            return super().render_lines(crop)
        finally:
            self._frame_style = None

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        style = self._frame_style or self.rich_style
        if index >= len(self._rows):
            return Strip.blank(self._width, style)
        row = self._rows[index]
        selection = self.text_selection
        strip = self._drawn.get(row) if selection is None else None
        if strip is None:
            strip = self._draw(row, style, selection)
            if selection is None:
                self._drawn[row] = strip
        return strip

    # -- rows ------------------------------------------------------------------------

    def _wrap_line(self, index: int) -> None:
        number = self._first + index
        self._rows.extend(
            (number, start, end) for start, end in wrap(self._lines[index], self._width)
        )

    def _unwrap_last(self) -> None:
        """Take the last line's rows off: the next piece may wrap it anew."""
        last = self._first + len(self._lines) - 1
        rows = self._rows
        while rows and rows[-1][0] == last:
            rows.pop()

    def _drop_oldest(self) -> int:
        """Drop lines beyond max_lines, oldest first; how many rows went with them."""
        excess = len(self._lines) - self._max_lines
        if excess <= 0:
            return 0
        del self._lines[:excess]
        self._first += excess
        gone = bisect_left(self._rows, (self._first, 0, 0))
        del self._rows[:gone]
        return gone

    def _draw(self, row: Row, style: Style, selection: Selection | None) -> Strip:
        number, start, end = row
        index = number - self._first
        text = self._lines[index][start:end]
        segments = [Segment(text, style)]
        span = selection.get_span(index) if selection is not None else None
        if span is not None:
            picked_from, picked_to = span
            if picked_to == -1:
                picked_to = end
            lo, hi = max(start, picked_from) - start, min(end, picked_to) - start
            if lo < hi:
                picked = style + self.screen.get_component_rich_style("screen--selection")
                segments = [
                    Segment(part, part_style)
                    for part, part_style in (
                        (text[:lo], style),
                        (text[lo:hi], picked),
                        (text[hi:], style),
                    )
                    if part
                ]
        drawn = Strip(segments).crop_extend(0, self._width, style)
        return drawn.apply_offsets(start, index)


def _shown(text: str) -> str:
    return _UNPRINTABLE.sub("�", text.expandtabs())
