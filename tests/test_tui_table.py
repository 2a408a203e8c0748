"""RowCachedTable draws exactly what a plain DataTable draws, whatever happens to it:
cell updates, the cursor moving, focus leaving, the mouse hovering, scrolling, rows
added, sorting, a new theme; with cells of plain strings and of styled Text (spans,
justified, wide characters, empty, too long for the column, tabs, wrapping)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.segment import Segment
from rich.text import Text
from textual.app import App, ComposeResult
from textual.coordinate import Coordinate
from textual.geometry import Region
from textual.widgets import DataTable, Input, TabbedContent, TabPane
from textual.widgets.data_table import CellDoesNotExist

from coordinator.tui.widgets.table import RowCachedTable

pytestmark = pytest.mark.anyio
COLUMNS = ("name", "state", "count")
Drawn = list[list[Segment]]
Cell = str | Text
Cells = Callable[[str, str, str], tuple[Cell, Cell, Cell]]


def plain(name: str, state: str, count: str) -> tuple[Cell, Cell, Cell]:
    return name, state, count


def styled(name: str, state: str, count: str) -> tuple[Cell, Cell, Cell]:
    """Text cells in every shape the quick path draws, and some it leaves to DataTable."""
    n = int(count)
    label = Text.assemble((name[:4], "italic"), (name[4:], "#ff8787"), style="bold")
    if n % 5 == 1:
        label = Text(name * 4, overflow="ellipsis")  # too long for its column
    elif n % 5 == 2:
        label = Text(f"{name} wraps\tat its column width", no_wrap=False, end="")  # tab
    shown = Text(f"{state}  ", justify="right", style="on #303030")  # trailing spaces
    if n % 3 == 0:
        shown = Text.from_markup(f"[b]{state}[/b] 数据", justify="center")  # wide characters
    number = Text(count, justify="right") if n % 4 else Text("", style="red")
    return label, shown, number


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class TableApp(App[None]):
    def __init__(self, table: DataTable[str]) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        yield self.table
        yield Input()


def put(table: DataTable[Cell], row: str, values: tuple[Cell, ...]) -> None:
    if isinstance(table, RowCachedTable):
        table.set_cells(row, COLUMNS, values)
        return
    for column, value in zip(COLUMNS, values, strict=True):
        table.update_cell(row, column, value)


Step = Callable[[DataTable[Cell], TableApp], None]


def steps(cells: Cells) -> list[Step]:
    def update(rows: range, n: int) -> Step:
        return lambda t, _app: [
            put(t, f"r{i}", cells(f"row {i}", f"s{n}", str(i * n))) for i in rows
        ]

    def hover(row: int) -> Step:
        def step(t: DataTable[Cell], _app: TableApp) -> None:
            t._show_hover_cursor = True  # what a mouse move over the table sets
            t.hover_coordinate = Coordinate(row, 1)

        return step

    def cursor(row: int) -> Step:
        return lambda t, _app: t.move_cursor(row=row, animate=False)

    def tinted(color: str) -> Step:  # the same text, another look
        return lambda t, _app: put(
            t, "r1", (Text("row 1", style=color), Text("s", justify="right"), Text("1"))
        )

    return [
        update(range(0, 30, 3), 1),
        cursor(4),
        update(range(2, 8), 2),
        lambda _t, app: app.query_one(Input).focus(),
        update(range(4, 6), 3),
        lambda t, _app: t.focus(),
        hover(5),
        update(range(3, 9), 7),
        hover(6),
        cursor(29),  # scrolls
        update(range(25, 30), 4),
        lambda t, _app: t.add_row(*cells("new", "queued", "0"), key="r30"),
        update(range(27, 31), 5),
        lambda t, _app: t.sort("count", key=str),  # Text cells: by their plain text
        update(range(0, 31, 2), 6),
        lambda _t, app: setattr(app, "theme", "textual-light"),
        cursor(0),
        tinted("red"),
        tinted("green"),
        cursor(20),
        update(range(0, 3), 9),  # fixed rows stay put while the rest scrolls
    ]


async def drawings(table: DataTable[Cell], cells: Cells, fixed_rows: int = 0) -> list[Drawn]:
    app = TableApp(table)
    seen: list[Drawn] = []
    async with app.run_test(size=(60, 12)) as pilot:
        table.fixed_rows = fixed_rows
        for column in COLUMNS:
            table.add_column(column, key=column)
        for i in range(30):
            table.add_row(*cells(f"row {i}", "queued", "0"), key=f"r{i}")
        table.focus()
        for step in steps(cells):
            step(table, app)
            await pilot.pause()
            strips = table.render_lines(Region(0, 0, *table.size))
            seen.append([list(strip) for strip in strips])
    return seen


@pytest.mark.parametrize("fixed_rows", [0, 1])
@pytest.mark.parametrize("cells", [plain, styled])
async def test_it_draws_what_datatable_draws(cells: Cells, fixed_rows: int) -> None:
    cached = await drawings(RowCachedTable(cursor_type="row"), cells, fixed_rows)
    theirs = await drawings(DataTable(cursor_type="row"), cells, fixed_rows)
    assert len(cached) == len(theirs) == len(steps(cells))
    for step, (mine, expected) in enumerate(zip(cached, theirs, strict=True)):
        assert mine == expected, f"differs after step {step}"


class TabsApp(App[None]):
    """The table in one tab, away from focus, and another tab to switch to."""

    def __init__(self, table: DataTable[Cell]) -> None:
        super().__init__()
        self.table = table

    def compose(self) -> ComposeResult:
        with TabbedContent(initial="one"):
            with TabPane("one", id="one"):
                yield self.table
            with TabPane("two", id="two"):
                yield Input()


async def drawn_after_a_hidden_change(table: DataTable[Cell]) -> list[str]:
    app = TabsApp(table)
    async with app.run_test(size=(60, 12)) as pilot:
        for column in COLUMNS:
            table.add_column(column, key=column)
        for i in range(5):
            table.add_row(f"row {i}", "queued", "0", key=f"r{i}")
        await pilot.pause()
        app.query_one(TabbedContent).active = "two"
        await pilot.pause()
        for i in range(5):
            put(table, f"r{i}", (f"row {i}", "done", str(i)))
        await pilot.pause()
        app.query_one(TabbedContent).active = "one"
        await pilot.pause()
        return [strip.text for strip in table.render_lines(Region(0, 0, *table.size))]


async def test_rows_changed_in_a_hidden_tab_show_when_it_comes_back() -> None:
    mine = await drawn_after_a_hidden_change(RowCachedTable(cursor_type="row"))
    assert mine == await drawn_after_a_hidden_change(DataTable(cursor_type="row"))
    assert "done" in "".join(mine)


async def test_it_draws_body_cells_without_datatable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its own path, not DataTable's, draws every body cell of plain text."""
    rows_drawn_by_datatable: list[int] = []
    render_cell = DataTable._render_cell

    def spy(self: DataTable[Cell], row_index: int, *args: object, **kwargs: object) -> object:
        rows_drawn_by_datatable.append(row_index)
        return render_cell(self, row_index, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(DataTable, "_render_cell", spy)
    await drawings(RowCachedTable(cursor_type="row"), plain)
    assert set(rows_drawn_by_datatable) == {-1}  # the header only


async def test_a_bad_key_changes_nothing() -> None:
    table: RowCachedTable[Cell] = RowCachedTable(cursor_type="row")
    async with TableApp(table).run_test(size=(60, 12)):
        for column in COLUMNS:
            table.add_column(column, key=column)
        table.add_row("row 0", "queued", "0", key="r0")
        with pytest.raises(CellDoesNotExist):
            table.set_cells("r0", ("name", "nope"), ("changed", "x"))
        with pytest.raises(ValueError, match="2 columns but 1 values"):
            table.set_cells("r0", ("name", "state"), ("changed",))
        with pytest.raises(CellDoesNotExist):
            table.set_cells("r9", ("name",), ("changed",))
        assert table.get_row("r0") == ["row 0", "queued", "0"]
        assert table.set_cells("r0", ("name",), (Text("row 0"),))  # a str became Text
        assert not table.set_cells("r0", ("name",), (Text("row 0"),))
        assert table.set_cells("r0", ("name",), (Text("row 0", style="red"),))


async def test_it_keeps_no_stale_drawings() -> None:
    """DataTable's own caches hold only what the last update left (they grew to
    thousands of entries under load before)."""
    table: RowCachedTable[Cell] = RowCachedTable(cursor_type="row")
    async with TableApp(table).run_test(size=(60, 12)) as pilot:
        for column in COLUMNS:
            table.add_column(column, key=column)
        for i in range(30):
            table.add_row(f"row {i}", "queued", "0", key=f"r{i}")
        for n in range(50):
            for i in range(30):
                put(table, f"r{i}", (f"row {i}", "running", str(n)))
            await pilot.pause()
        visible = table.size.height
        assert len(table._cell_render_cache) <= visible * len(COLUMNS)
        assert len(table._line_cache) <= visible
