"""StreamLog: streamed text, wrapped to the widget's width, that can be selected.

Reviewers stream prose: a paragraph arrives in pieces and is one line of hundreds
of characters. Textual's ``Log`` shows such a line unwrapped, behind a horizontal
scrollbar; ``RichLog`` wraps, but starts a new line with each write. This keeps
the text as lines, appends each piece to the last one, and wraps lines into rows
at word boundaries; a piece re-wraps only the last row of the line it lands on,
so a write costs what it adds, however long the line has grown.

Growing never re-lays out the screen: ``virtual_size`` is not a layout reactive
here (Textual's widgets declare it one, so each write re-flowed and re-drew every
widget, ~13 ms a write under load); the log updates its own scrollbar instead.

Lines are numbered from the start of the log, not of what is kept: a row's
drawing and a selection stay valid when the oldest lines are dropped. Each row
carries the offset of its first character in its line, so a selection across
rows comes out as the text of the lines it spans.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence

from rich.cells import split_graphemes
from rich.segment import Segment
from rich.style import Style
from textual.cache import LRUCache
from textual.geometry import Offset, Region, Size
from textual.reactive import Reactive
from textual.scroll_view import ScrollView
from textual.selection import Selection
from textual.strip import Strip

# Control characters, and the ones str.splitlines() would break a line at: shown
# as "�", so a line stays one line for selection and one row's worth of cells.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f\x85\u2028\u2029]")
_ROW_CACHE = 256  # drawn rows kept: a few screens' worth

Row = tuple[int, int, int]  # (the line's number since the log began, start, end)


def wrap(line: str, width: int, start: int = 0) -> list[tuple[int, int]]:
    """The rows ``line[start:]`` takes at ``width`` cells: (start, end) offsets.

    A row breaks after its last space when it has one, and a space where a row
    breaks is not shown; a word longer than the width is cut between characters
    as the terminal draws them (an emoji with its modifiers stays whole).
    """
    size = len(line)
    if width < 1 or (size - start <= width and line.isascii()):
        return [(start, size)]
    rows: list[tuple[int, int]] = []
    row = start
    if line.isascii():  # one cell a character: find the breaks without a loop a character
        while size - row > width:
            end = row + width
            if line[end] == " ":
                rows.append((row, end))
                row = end + 1
                continue
            space = line.rfind(" ", row, end)
            end = space + 1 if space > row else end
            rows.append((row, end))
            row = end
    else:
        spans, _ = split_graphemes(line[start:])
        cells = 0
        space_end = space_cells = -1  # just after the row's last space; cells up to it
        for first, last, taken in spans:
            at, after = start + first, start + last
            if cells + taken > width and at > row:
                if line[at] == " ":  # break here; the space is not shown
                    rows.append((row, at))
                    row, cells, space_end = after, 0, -1
                    continue
                if space_end > row:
                    rows.append((row, space_end))
                    row, cells = space_end, cells - space_cells
                else:
                    rows.append((row, at))
                    row, cells = at, 0
                space_end = -1
            cells += taken
            if line[at] == " ":
                space_end, space_cells = after, cells
    if row < size or not rows:
        rows.append((row, size))
    return rows


class StreamLog(ScrollView, can_focus=True):
    """Append text with ``write``; it wraps, follows the end, and drops old lines."""

    DEFAULT_CSS = """
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
        self._lines: list[str] = []  # shown text: tabs expanded, control characters replaced
        self._first = 0  # the number, since the log began, of _lines[0]
        self._rows: list[Row] = []
        self._width = 0  # the width _rows are wrapped at
        self._following = True  # at the end, so new text scrolls into view
        self._drawn: LRUCache[Row, Strip] = LRUCache(_ROW_CACHE)
        self._frame_style: Style | None = None  # rich_style while a frame is drawn

    @property
    def lines(self) -> Sequence[str]:
        """The text kept, a line each (control characters shown as "�")."""
        return self._lines

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def watch_virtual_size(self, size: Size) -> None:
        self._scroll_update(size)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._following = new_value >= self.max_scroll_y

    def write(self, text: str) -> None:
        """Append ``text``: its first line continues the last one."""
        if not text:
            return
        pieces = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if self._lines:
            resume = self._unwrap_last()
        else:
            self._lines.append("")
            resume = 0
        changed_from = len(self._rows)
        last = self._lines[-1]
        self._lines[-1] = last + _shown(pieces[0], column=len(last))
        self._wrap_line(len(self._lines) - 1, resume)
        for piece in pieces[1:]:
            self._lines.append(_shown(piece, column=0))
            self._wrap_line(len(self._lines) - 1, 0)
        dropped = self._drop_oldest()
        following = self._following
        self.virtual_size = Size(self._width, len(self._rows))
        if following:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif dropped:  # keep the reader's rows in view
            self.scroll_to(y=max(0, self.scroll_y - dropped), animate=False, immediate=True)
        if dropped:  # every row moved up
            self.refresh()
        else:  # a row's drawing stays good: its line only grows past its end
            self.refresh_lines(changed_from, len(self._rows) - changed_from)

    def clear(self) -> None:
        self._lines.clear()
        self._rows.clear()
        self._first = 0
        self._drawn.clear()  # line numbers start again
        self.virtual_size = Size(self._width, 0)
        self.scroll_to(0, 0, animate=False, immediate=True)
        self._following = True
        self.refresh()

    def on_resize(self) -> None:
        following = self._following
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._rows = []
            for index in range(len(self._lines)):
                self._wrap_line(index, 0)
            self._drawn.clear()
            self.virtual_size = Size(width, len(self._rows))
            self.refresh()
        if following:  # also when only the height changed
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._drawn.clear()

    def selection_updated(self, selection: Selection | None) -> None:
        self._drawn.clear()
        self.refresh()

    def get_selection(self, selection: Selection) -> tuple[str, str] | None:
        first = self._first

        def kept(at: Offset | None) -> Offset | None:  # from log line numbers to kept ones
            if at is None:
                return None
            return Offset(at.x, at.y - first) if at.y >= first else Offset(0, 0)

        picked = Selection(kept(selection.start), kept(selection.end))
        return picked.extract("\n".join(self._lines)), "\n"

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

    def _wrap_line(self, index: int, start: int) -> None:
        number = self._first + index
        rows = wrap(self._lines[index], self._width, start)
        self._rows.extend((number, row_start, row_end) for row_start, row_end in rows)

    def _unwrap_last(self) -> int:
        """Take the last row off and say where it began: the next piece may wrap it anew."""
        _number, start, _end = self._rows.pop()
        return start

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
        text = self._lines[number - self._first][start:end]
        segments = [Segment(text, style)]
        span = selection.get_span(number) if selection is not None else None
        if span is not None:
            picked_from, picked_to = span
            if picked_to == -1:
                picked_to = end
            lo, hi = max(start, picked_from) - start, min(end, picked_to) - start
            if lo < hi:
                picked = style + self.screen.get_component_rich_style("screen--selection")
                parts = ((text[:lo], style), (text[lo:hi], picked), (text[hi:], style))
                segments = [Segment(part, how) for part, how in parts if part]
        # Offsets first: the padding after the text then points at no character, and
        # a selection dragged past a row's end stops there instead of in the next row.
        with_offsets = Strip(segments).apply_offsets(start, number)
        return with_offsets.crop_extend(0, self._width, style)


def _shown(piece: str, column: int) -> str:
    """``piece`` as shown from ``column`` of its line: tabs expanded, controls replaced."""
    if "\t" in piece:
        piece = (" " * column + piece).expandtabs()[column:]
    return _UNPRINTABLE.sub("�", piece)
