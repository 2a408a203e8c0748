"""The TUI's pure parts: events folded into rows, the browser's filters, export, rendering."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console, RenderableType

from coordinator.dismissals import Dismissal, Dismissals
from coordinator.events import (
    SessionFinished,
    SessionQueued,
    SessionRepairing,
    SessionRetrying,
    SessionStarted,
    TextDelta,
    ToolCalled,
    Usage,
    UsageUpdated,
)
from coordinator.findings import Severity
from coordinator.review import ReviewerStatus
from coordinator.tui import state as state_module
from coordinator.tui.browse import BrowserState, FindingFilter, Triage, exported_review
from coordinator.tui.demo import demo_diff, demo_findings, demo_overview, demo_review
from coordinator.tui.editor import editor_command, editor_from
from coordinator.tui.render import code_context, current_lines, suggestion_diff
from coordinator.tui.scripted import FakeClock
from coordinator.tui.state import RowState, RunState


def new_state(clock: FakeClock) -> RunState:
    return RunState(demo_overview(Path(".")).sessions, clock)


def text_of(renderable: RenderableType) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_a_session_through_retry_repair_and_done() -> None:
    clock = FakeClock(100.0)
    state = new_state(clock)
    row = state.sessions["performance#1"]
    assert row.state is RowState.QUEUED
    state.apply(SessionStarted("performance#1", "performance", "s1"))
    state.apply(UsageUpdated("performance#1", "performance", Usage(500, 10, 0.01)))
    clock.now += 2
    state.apply(SessionRetrying("performance#1", "performance", 1, "HTTP 503\nbody", 1.5))
    assert row.state is RowState.RETRYING
    assert row.note == "retry 1 in 1.5s: HTTP 503"
    assert row.total_usage == Usage(500, 10, 0.01)  # the first attempt's spend stays counted
    state.apply(SessionStarted("performance#1", "performance", "s2"))
    state.apply(UsageUpdated("performance#1", "performance", Usage(300, 5, 0.005)))
    assert row.state is RowState.RUNNING
    assert row.total_usage == Usage(800, 15, 0.015)
    state.apply(SessionRepairing("performance#1", "performance", "line: required"))
    assert row.note == "repairing output"
    clock.now += 3
    total = Usage(800, 40, 0.02)
    state.apply(SessionFinished("performance#1", "performance", ReviewerStatus.OK, 3, total, 5.0))
    assert row.state is RowState.DONE
    assert row.total_usage == total
    assert row.elapsed(clock.now + 100) == 5.0  # stopped at the end
    assert row.findings == 3
    assert state.take_dirty() == {"performance#1"}
    assert state.take_dirty() == set()


def test_tool_calls_are_counted_once_per_call_and_the_latest_is_named() -> None:
    state = new_state(FakeClock())
    for status in ("pending", "running", "completed"):
        state.apply(ToolCalled("security#1", "security", "read", "app/db.py", status, "c1"))
    state.apply(ToolCalled("security#2", "security", "grep", "execute", "running", "c2"))
    state.apply(ToolCalled("security#1", "security", "glob", "**/*.py", "error", "c3"))
    assert state.sessions["security#1"].tool_calls == 2
    reviewer = state.reviewer("security")
    assert reviewer.tool_calls == 3
    assert reviewer.last_tool == "glob **/*.py"
    assert "✗ glob **/*.py failed" in "".join(state.sessions["security#1"].transcript.pieces)


def test_reviewer_state_sums_up_its_chunks() -> None:
    state = new_state(FakeClock())
    assert state.reviewer("security").state is RowState.QUEUED
    state.apply(SessionFinished("security#1", "security", ReviewerStatus.OK, 1, Usage(), 1.0))
    assert state.reviewer("security").state is RowState.RUNNING  # one done, one queued
    state.apply(
        SessionFinished("security#2", "security", ReviewerStatus.TIMEOUT, 0, Usage(), 1.0, "t/o")
    )
    reviewer = state.reviewer("security")
    assert reviewer.state is RowState.FAILED
    assert reviewer.finished == 2
    assert state.sessions["security#2"].state.rerunnable


def test_sessions_nobody_planned_get_rows() -> None:
    state = new_state(FakeClock())
    state.structure_changed = False
    state.apply(SessionQueued("verifier#app/db.py", "verifier", "opencode", 0, 1, ("app/db.py",)))
    assert state.structure_changed
    assert state.agents[-1] == "verifier"


def test_transcripts_stay_bounded() -> None:
    state = new_state(FakeClock())
    limit = state_module.TRANSCRIPT_LIMIT
    for i in range(200):
        state.apply(TextDelta("tests#1", "tests", f"{i:04d}" + "x" * (limit // 100)))
    transcript = state.sessions["tests#1"].transcript
    assert transcript.size <= limit
    assert transcript.first > 0
    assert transcript.since(0)[0].startswith(f"{transcript.first:04d}")
    assert transcript.end == 200


def test_requeue_resets_a_failed_session() -> None:
    state = new_state(FakeClock())
    state.apply(SessionFinished("tests#1", "tests", ReviewerStatus.FAILED, 0, Usage(), 1, "x"))
    state.requeue(["tests#1"])
    row = state.sessions["tests#1"]
    assert (row.state, row.note, row.started) == (RowState.QUEUED, "", None)


def browser() -> BrowserState:
    update = demo_findings()
    state = BrowserState()
    state.update(update.findings, update.members, final=False)
    return state


def test_filters_combine() -> None:
    state = browser()
    assert len(state.visible()) == 5
    state.filter = FindingFilter(min_severity=Severity.MEDIUM)
    assert [f.severity for f in state.visible()] == [
        Severity.CRITICAL,
        Severity.HIGH,
        Severity.MEDIUM,
    ]
    state.filter = FindingFilter(path="app/*.py", reviewer="security")
    assert len(state.visible()) == 2
    # Search reaches every reviewer's own wording, not only the merged title.
    state.filter = FindingFilter(text="user-controlled INTERPOLATED")
    assert [f.rank for f in state.visible()] == [1]
    assert state.reviewers() == ["correctness", "maintainability", "performance", "security"]


def test_dismissed_findings_hide_unless_asked_for() -> None:
    state = browser()
    first = state.findings[0]
    state.dismissals = Dismissals({first.id: Dismissal(first.id, reason="fine")})
    assert first not in state.visible()
    assert state.open_count() == 4
    state.filter = FindingFilter(show_dismissed=True)
    assert state.visible()[0] == first
    assert state.triage(first.id) is Triage.DISMISSED
    assert state.toggle_accepted(state.findings[1].id)
    assert state.triage(state.findings[1].id) is Triage.ACCEPTED


def test_export_moves_every_member_of_a_dismissed_finding_to_rejected() -> None:
    review = demo_review()
    members = demo_findings().members
    first = review.findings[0]
    dismissals = Dismissals({first.id: Dismissal(first.id, reason="tested elsewhere")})
    out = exported_review(review, members, dismissals, show_dismissed=False)
    assert [f.rank for f in out.findings] == [1, 2, 3, 4]
    assert out.summary.counts["critical"] == 0
    moved = [r for r in out.rejected if r.reason == "dismissed: tested elsewhere"]
    assert sorted(r.reviewer for r in moved) == ["correctness", "security"]
    # Without members (a review from elsewhere) the finding is still accounted for.
    bare = exported_review(review, {}, dismissals, show_dismissed=False)
    assert sorted(r.reviewer for r in bare.rejected) == ["correctness", "security"]
    assert exported_review(review, members, dismissals, show_dismissed=True) == review


def test_code_and_suggestion_views() -> None:
    findings = {f.rank: f for f in demo_findings().findings}
    db = demo_diff().files[0]
    sql = findings[1]
    code = text_of(code_context(sql, db, None))
    assert "@@ -1,9 +1,12 @@" in code
    assert "▶" in code
    assert current_lines(sql, db, None) == [
        "    query = f\"SELECT * FROM users WHERE name = '{name}'\"",
        "    return conn.execute(query).fetchone()",
    ]
    diff = text_of(suggestion_diff(sql, current_lines(sql, db, None)))
    assert "-     return conn.execute(query).fetchone()" in diff
    assert "+     return conn.execute(query, (name,)).fetchone()" in diff
    unknown = text_of(suggestion_diff(sql, None))
    assert "the current lines are not available" in unknown


def test_editor_commands() -> None:
    path = Path("/r/app.py")
    assert editor_command(["vim"], path, 7) == ["vim", "+7", "/r/app.py"]
    assert editor_command(["code", "-w"], path, 7) == ["code", "-w", "--goto", "/r/app.py:7"]
    assert editor_command(["subl"], path, 7) == ["subl", "/r/app.py:7"]
    assert editor_command(["idea"], path, 7) == ["idea", "--line", "7", "/r/app.py"]
    assert editor_from({"VISUAL": "emacs -nw", "EDITOR": "nano"}) == ["emacs", "-nw"]
    assert editor_from({}) == ["vi"]
