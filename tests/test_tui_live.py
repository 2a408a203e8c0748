"""LiveReviewRun: the real session runner and merge behind the TUI, on an in-process runtime."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from coordinator.events import SessionFinished
from coordinator.review import ReviewerStatus
from coordinator.tui.app import CouncilApp
from coordinator.tui.run import FindingsUpdate, RunUpdate
from coordinator.tui.widgets.live import ReviewerTable
from coordinator.tui.widgets.review import FindingsTable
from tests.tui_support import (
    GatedRuntime,
    Script,
    answer,
    changed_repo,
    eventually,
    finding,
    live_run,
    prepare,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Textual's loop


async def test_findings_arrive_while_other_sessions_still_run(tmp_path: Path) -> None:
    repo = changed_repo(tmp_path)
    prepared = await prepare(repo, ("security", "correctness"))
    gate = anyio.Event()
    script = Script(
        answers={
            "security": answer(finding(6, "Unvalidated key lookup", "medium")),
            "correctness": answer(finding(2, "price may be missing on items")),
        },
        gates={"correctness": gate},
    )
    run = live_run(prepared, GatedRuntime(script))
    updates: list[RunUpdate] = []

    async with anyio.create_task_group() as tg:
        tg.start_soon(run.run, updates.append)
        await eventually(lambda: any(isinstance(u, FindingsUpdate) for u in updates))
        first = next(u for u in updates if isinstance(u, FindingsUpdate))
        assert [f.title for f in first.findings] == ["Unvalidated key lookup"]
        assert not first.final
        assert first.members[first.findings[0].id][0].reviewer == "security"
        finished = {u.key for u in updates if isinstance(u, SessionFinished)}
        assert finished == {"security#1"}  # correctness is still waiting at its gate
        gate.set()
    final = [u for u in updates if isinstance(u, FindingsUpdate)][-1]
    assert final.final
    assert sorted(f.title for f in final.findings) == [
        "Unvalidated key lookup",
        "price may be missing on items",
    ]


async def test_cancel_one_aborts_its_session_and_the_review_goes_on(tmp_path: Path) -> None:
    repo = changed_repo(tmp_path)
    prepared = await prepare(repo, ("security", "correctness"))
    never = anyio.Event()
    script = Script(
        answers={"correctness": answer(finding(2, "price may be missing on items"))},
        gates={"security": never},
    )
    runtime = GatedRuntime(script)
    run = live_run(prepared, runtime)
    updates: list[RunUpdate] = []
    async with anyio.create_task_group() as tg:

        async def main() -> None:
            review = await run.run(updates.append)
            by = {r.agent: r for r in review.reviewers}
            assert by["security"].status is ReviewerStatus.CANCELLED
            assert by["correctness"].status is ReviewerStatus.OK
            assert [f.title for f in review.findings] == ["price may be missing on items"]

        tg.start_soon(main)
        await eventually(lambda: "security#1" in runtime.opened)
        run.cancel("security#1")
    assert runtime.aborted == ["security#1"]


async def test_cancel_all_returns_a_partial_review(tmp_path: Path) -> None:
    repo = changed_repo(tmp_path)
    prepared = await prepare(repo, ("security", "correctness", "tests"))
    never = anyio.Event()
    script = Script(gates={"security": never, "correctness": never, "tests": never})
    runtime = GatedRuntime(script)
    run = live_run(prepared, runtime)
    updates: list[RunUpdate] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(run.run, updates.append)
        await eventually(lambda: len(runtime.opened) == 3)
        run.cancel_all()
    assert sorted(runtime.aborted) == ["correctness#1", "security#1", "tests#1"]
    statuses = {u.key: u.status for u in updates if isinstance(u, SessionFinished)}
    assert set(statuses.values()) == {ReviewerStatus.CANCELLED}


async def test_cancel_all_while_runtimes_start_cancels_every_session(tmp_path: Path) -> None:
    repo = changed_repo(tmp_path)
    prepared = await prepare(repo, ("security", "tests"))
    runtime = GatedRuntime(Script(), starting=anyio.Event())  # never finishes starting
    run = live_run(prepared, runtime)
    updates: list[RunUpdate] = []
    async with anyio.create_task_group() as tg:

        async def main() -> None:
            review = await run.run(updates.append)
            assert {r.status for r in review.reviewers} == {ReviewerStatus.CANCELLED}

        tg.start_soon(main)
        await eventually(lambda: runtime.entered > 0)
        run.cancel_all()
    assert runtime.opened == []
    finished = [u for u in updates if isinstance(u, SessionFinished)]
    assert sorted(u.key for u in finished) == ["security#1", "tests#1"]
    assert {u.status for u in finished} == {ReviewerStatus.CANCELLED}


async def test_rerun_of_a_failed_session_replaces_its_outcome(tmp_path: Path) -> None:
    repo = changed_repo(tmp_path)
    prepared = await prepare(repo, ("security", "correctness"))
    script = Script(
        answers={
            "security": answer(finding(6, "Unvalidated key lookup", "medium")),
            "correctness": answer(finding(2, "price may be missing on items")),
        },
        fail_once={"correctness"},
    )
    runtime = GatedRuntime(script)
    run = live_run(prepared, runtime)
    updates: list[RunUpdate] = []
    first = await run.run(updates.append)
    by = {r.agent: r for r in first.reviewers}
    assert by["correctness"].status is ReviewerStatus.FAILED
    assert "HTTP 401" in (by["correctness"].error or "")
    assert [f.title for f in first.findings] == ["Unvalidated key lookup"]

    second = await run.rerun(["correctness#1"], updates.append)
    by = {r.agent: r for r in second.reviewers}
    assert by["correctness"].status is ReviewerStatus.OK
    assert by["security"].status is ReviewerStatus.OK  # kept from the first run, not re-run
    assert runtime.opened.count("security#1") == 1
    assert sorted(f.title for f in second.findings) == [
        "Unvalidated key lookup",
        "price may be missing on items",
    ]
    final = [u for u in updates if isinstance(u, FindingsUpdate)][-1]
    assert final.final
    assert len(final.findings) == 2


async def test_read_new_file_reads_the_working_tree(tmp_path: Path) -> None:
    repo = changed_repo(tmp_path)
    run = live_run(await prepare(repo, ("security",)), GatedRuntime(Script()))
    assert "user['name'].strip()" in (await run.read_new_file("shop.py") or "")
    assert await run.read_new_file("missing.py") is None


async def test_overview_lists_every_planned_session(tmp_path: Path) -> None:
    repo = changed_repo(tmp_path)
    run = live_run(await prepare(repo, ("security", "tests")), GatedRuntime(Script()))
    overview = run.overview
    assert [(s.key, s.agent, s.runtime) for s in overview.sessions] == [
        ("security#1", "security", "scripted"),
        ("tests#1", "tests", "scripted"),
    ]
    assert overview.repo == repo.root
    assert [f.path for f in overview.diff.files] == ["shop.py"]


async def test_the_app_on_the_real_pipeline(tmp_path: Path) -> None:
    """Keys in the app reach the real session runner: cancel aborts the runtime's session,
    re-run runs it again, and findings show while another reviewer still works."""
    repo = changed_repo(tmp_path)
    prepared = await prepare(repo, ("security", "correctness"))
    gate = anyio.Event()
    script = Script(
        answers={
            "security": answer(finding(6, "Unvalidated key lookup", "medium")),
            "correctness": answer(finding(2, "price may be missing on items")),
        },
        gates={"correctness": gate},
    )
    runtime = GatedRuntime(script)
    run = live_run(prepared, runtime)
    app = CouncilApp(lambda: run, refresh_s=0.02)
    async with app.run_test(size=(120, 36)) as pilot:
        table = app.query_one(ReviewerTable)

        def state_of(agent: str) -> str:
            return str(table.get_cell(f"agent:{agent}", "state"))

        await eventually(lambda: state_of("security") == "✓ done")
        assert state_of("correctness") == "● running"
        await pilot.press("2")
        await eventually(lambda: app.query_one(FindingsTable).row_count == 1)

        await pilot.press("1")
        table.move_cursor(row=table.get_row_index("agent:correctness"))
        await pilot.press("c")
        await eventually(lambda: state_of("correctness") == "■ cancelled")
        assert runtime.aborted == ["correctness#1"]

        gate.set()
        await pilot.press("r")
        await eventually(lambda: state_of("correctness") == "✓ done")
        await eventually(lambda: app.browser.final and len(app.browser.findings) == 2)
        assert app.review is not None
        assert {r.status for r in app.review.reviewers} == {ReviewerStatus.OK}
        await pilot.press("q")
        await pilot.pause()
    assert app.return_value == 0
