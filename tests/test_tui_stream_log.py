"""StreamLog: text streamed in pieces wraps at word boundaries, follows the end,
drops its oldest lines, re-wraps on resize, and selects in the text's own lines."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from textual.app import App, ComposeResult
from textual.geometry import Offset, Region
from textual.selection import Selection
from textual.strip import Strip

from coordinator.tui.widgets.stream_log import StreamLog, wrap

pytestmark = pytest.mark.anyio
PROSE = (
    "The new find_user builds SQL with an f-string, so a name such as x' OR '1'='1 "
    "returns every row; pass the name as a parameter instead.\n"
    "Second line.\n" + "a_very_long_identifier_without_any_space_" * 3
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class LogApp(App[None]):
    def __init__(self, max_lines: int = 100) -> None:
        super().__init__()
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield StreamLog(max_lines=self.max_lines)


def drawn(log: StreamLog) -> list[Strip]:
    return log.render_lines(Region(0, 0, log.size.width, log.size.height))


def rows_text(log: StreamLog) -> list[str]:
    """What each row shows, trailing padding removed."""
    return [strip.text.rstrip() for strip in drawn(log)]


def test_wrap_breaks_after_spaces_and_cuts_long_words() -> None:
    assert wrap("", 10) == [(0, 0)]
    assert wrap("short", 10) == [(0, 5)]
    assert wrap("one two three", 9) == [(0, 8), (8, 13)]  # "one two " | "three"
    assert wrap("one two three", 7) == [(0, 7), (8, 13)]  # the space at the break is not shown
    assert wrap("abcd efgh", 4) == [(0, 4), (5, 9)]
    assert wrap("abcd ", 4) == [(0, 4)]  # no empty row for the space
    assert wrap("abcdefghij", 4) == [(0, 4), (4, 8), (8, 10)]
    assert wrap("one two three", 7, start=4) == [(4, 8), (8, 13)]  # from a row's start
    assert wrap("anything", 0) == [(0, 8)]  # not laid out yet: one row


def covers(line: str, rows: list[tuple[int, int]]) -> bool:
    """The rows take the whole line, in order, less single spaces at their breaks."""
    at = 0
    for start, end in rows:
        if start == at + 1 and line[at] == " ":
            at += 1
        if start != at or end < start:
            return False
        at = end
    return at == len(line)


@pytest.mark.parametrize(
    "line",
    [
        "数据库查询 用户 名称",
        "ab 数据 cd 🙂 ef gh",
        "e\u0301" * 12,
        "ok " + "✔️" * 10 + " end",  # an emoji with its variation selector: two cells
        "family 👨\u200d👩\u200d👧 flags 🇫🇷🇩🇪 done",  # joined emoji and flags stay whole
    ],
)
def test_wide_and_combining_characters_fit_their_rows(line: str) -> None:
    rows = wrap(line, 5)
    assert covers(line, rows)
    assert all(cell_len(line[start:end]) <= 5 for start, end in rows)
    cut_inside = {"\ufe0f", "\u200d", "\u0301", "🇩"}  # what must not start a row
    assert not any(line[start] in cut_inside for start, end in rows if start < end)


async def test_pieces_wrap_as_the_whole_text_would() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 30)) as pilot:
        log = app.query_one(StreamLog)
        for i in range(0, len(PROSE), 7):  # as a model streams it
            log.write(PROSE[i : i + 7])
        await pilot.pause()
        streamed = rows_text(log)
        log.clear()
        log.write(PROSE)
        await pilot.pause()
        assert rows_text(log) == streamed
        width = log.scrollable_content_region.width
        assert log.virtual_size.width == width  # nothing to scroll sideways
        assert not log.show_horizontal_scrollbar
        assert all(0 < cell_len(row) <= width for row in streamed if row)
        assert streamed[:3] == [
            "The new find_user builds SQL with an",
            "f-string, so a name such as x' OR",
            "'1'='1 returns every row; pass the",  # 38 columns: 40 less the scrollbar
        ]
        assert "".join(streamed).replace(" ", "") == PROSE.replace("\n", "").replace(" ", "")
        assert log.lines == PROSE.split("\n")


async def test_it_follows_the_end_unless_scrolled_back() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 6)) as pilot:
        log = app.query_one(StreamLog)
        for i in range(30):
            log.write(f"line {i}\n")
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y > 0
        assert "line 29" in rows_text(log)
        log.scroll_home(animate=False, immediate=True)
        log.write("more\n")
        await pilot.pause()
        assert log.scroll_y == 0  # the reader's place is kept
        assert rows_text(log)[0] == "line 0"


async def test_it_drops_the_oldest_lines_beyond_its_limit() -> None:
    app = LogApp(max_lines=5)
    async with app.run_test(size=(20, 10)) as pilot:
        log = app.query_one(StreamLog)
        for i in range(12):
            log.write(f"line {i} " + "word " * 5 + "\n")  # two rows a line
        await pilot.pause()
        assert len(log.lines) == 5
        assert log.lines[0].startswith("line 8 ")
        assert log.lines[-1] == ""  # the line the next piece starts
        assert log.row_count == 4 * 2 + 1
        assert rows_text(log)[:2] == ["line 8 word word", "word word word"]


async def test_a_resize_wraps_again() -> None:
    app = LogApp()
    async with app.run_test(size=(80, 20)) as pilot:
        log = app.query_one(StreamLog)
        log.write(PROSE)
        await pilot.pause()
        wide = log.row_count
        await pilot.resize_terminal(30, 20)
        await pilot.pause()
        assert log.row_count > wide
        width = log.scrollable_content_region.width
        assert all(cell_len(row) <= width for row in rows_text(log))


async def test_a_selection_across_rows_is_the_text_of_its_lines() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 20)) as pilot:
        log = app.query_one(StreamLog)
        log.write(PROSE)
        await pilot.pause()
        strips = drawn(log)
        # The second row starts at its offset in the first line, not at 0.
        first_cell = next(iter(strips[1]))
        start = PROSE.index("f-string")
        assert first_cell.style is not None
        assert first_cell.style.meta["offset"] == (start, 0)
        picked = Selection(Offset(start, 0), Offset(6, 1))
        assert log.get_selection(picked) == (PROSE[start : PROSE.index("\n") + 7], "\n")
        # The selected part of a wrapped row is drawn selected.
        log.screen.selections = {log: picked}
        await pilot.press("ctrl+c")  # copies, as Textual's screens do
        assert app.clipboard == PROSE[start : PROSE.index("\n") + 7]
        strips = drawn(log)
        first_row, second_row = list(strips[0]), list(strips[1])
        assert first_row[0].text.startswith("The new")
        assert first_row[0].style is not None
        assert second_row[0].text.startswith("f-string")
        assert second_row[0].style is not None
        assert second_row[0].style.bgcolor != first_row[0].style.bgcolor


async def test_carriage_returns_end_lines_and_tabs_keep_their_stops() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 10)):
        log = app.query_one(StreamLog)
        log.write("A\r\nB\rC")
        assert log.lines == ["A", "B", "C"]
        log.write("\tx")  # a tab in a later piece stops where it would in the whole line
        assert log.lines[-1] == "C       x"


async def test_it_keeps_following_when_the_view_gets_shorter() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 20)) as pilot:
        log = app.query_one(StreamLog)
        log.write("".join(f"line {i}\n" for i in range(50)))
        await pilot.pause()
        await pilot.resize_terminal(40, 12)
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        log.write("line 50\n")
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y
        assert rows_text(log)[-2] == "line 50"


async def test_dropping_old_lines_keeps_the_readers_rows_and_selection() -> None:
    app = LogApp(max_lines=20)
    async with app.run_test(size=(40, 8)) as pilot:
        log = app.query_one(StreamLog)
        log.write("".join(f"line {i}\n" for i in range(30)))
        await pilot.pause()
        log.scroll_to(y=8, animate=False, immediate=True)  # lines 11-30 kept
        await pilot.pause()
        top = rows_text(log)[0]
        assert top == "line 19"
        picked = Selection(Offset(0, 19), Offset(6, 20))
        assert log.get_selection(picked) == ("line 19\nline 2", "\n")
        log.write("".join(f"line {i}\n" for i in range(30, 35)))  # five lines dropped
        await pilot.pause()
        assert log.lines[0] == "line 16"
        assert rows_text(log)[0] == top
        assert log.get_selection(picked) == ("line 19\nline 2", "\n")


async def test_the_space_after_a_row_selects_nothing_of_the_next() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 20)) as pilot:
        log = app.query_one(StreamLog)
        log.write(PROSE)
        await pilot.pause()
        strips = drawn(log)
        for strip, (number, start, end) in zip(strips, log._rows, strict=False):
            offsets = [s.style.meta.get("offset") for s in strip if s.style is not None]
            assert offsets[0] == (start, number)
            assert all(at is None or at[0] < end for at in offsets)  # padding points nowhere
