"""RowCachedTable draws exactly what a plain DataTable draws, whatever happens to it:
cell updates, the cursor moving, focus leaving, scrolling, rows added, sorting, a
new theme."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rich.segment import Segment
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import DataTable, Input

from coordinator.tui.widgets.table import RowCachedTable

pytestmark = pytest.mark.anyio
COLUMNS = ("name", "state", "count")
Drawn = list[list[Segment]]


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


def put(table: DataTable[str], row: str, values: tuple[str, ...]) -> None:
    if isinstance(table, RowCachedTable):
        table.set_cells(row, COLUMNS, values)
        return
    for column, value in zip(COLUMNS, values, strict=True):
        if table.get_cell(row, column) != value:
            table.update_cell(row, column, value)


Step = Callable[[DataTable[str], TableApp], None]


def steps() -> list[Step]:
    def update(rows: range, n: int) -> Step:
        return lambda t, _app: [put(t, f"r{i}", (f"row {i}", f"s{n}", str(i * n))) for i in rows]

    def cursor(row: int) -> Step:
        return lambda t, _app: t.move_cursor(row=row, animate=False)

    return [
        update(range(0, 30, 3), 1),
        cursor(4),
        update(range(2, 8), 2),
        lambda _t, app: app.query_one(Input).focus(),
        update(range(4, 6), 3),
        lambda t, _app: t.focus(),
        cursor(29),  # scrolls
        update(range(25, 30), 4),
        lambda t, _app: t.add_row("new", "queued", "0", key="r30"),
        update(range(27, 31), 5),
        lambda t, _app: t.sort("count"),
        update(range(0, 31, 2), 6),
        lambda _t, app: setattr(app, "theme", "textual-light"),
        cursor(0),
    ]


async def drawings(table: DataTable[str]) -> list[Drawn]:
    app = TableApp(table)
    seen: list[Drawn] = []
    async with app.run_test(size=(60, 12)) as pilot:
        for column in COLUMNS:
            table.add_column(column, key=column)
        for i in range(30):
            table.add_row(f"row {i}", "queued", "0", key=f"r{i}")
        table.focus()
        for step in steps():
            step(table, app)
            await pilot.pause()
            strips = table.render_lines(Region(0, 0, *table.size))
            seen.append([list(strip) for strip in strips])
    return seen


async def test_it_draws_what_datatable_draws() -> None:
    cached = await drawings(RowCachedTable(cursor_type="row"))
    plain = await drawings(DataTable(cursor_type="row"))
    assert len(cached) == len(plain) == len(steps())
    for step, (mine, theirs) in enumerate(zip(cached, plain, strict=True)):
        assert mine == theirs, f"differs after step {step}"


async def test_it_keeps_no_stale_drawings() -> None:
    """DataTable's own caches hold only what the last update left (they grew to
    thousands of entries under load before)."""
    table: RowCachedTable[str] = RowCachedTable(cursor_type="row")
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
