"""The live view's state: events folded into one row per session and per reviewer.

Pure (no textual). Folding an event is O(1) and only marks what changed, so the app
can take thousands of events a second and repaint a batch of them at a time from
``take_dirty()`` instead of once per event.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from coordinator.events import (
    Event,
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
from coordinator.review import ReviewerStatus
from coordinator.tui.run import PlannedSession

TRANSCRIPT_LIMIT = 200_000  # characters of streamed text kept per session


class RowState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    CACHED = "cached"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in _FINISHED

    @property
    def rerunnable(self) -> bool:
        return self in (RowState.FAILED, RowState.CANCELLED)


_FINISHED = frozenset(
    {RowState.DONE, RowState.FAILED, RowState.CANCELLED, RowState.CACHED, RowState.SKIPPED}
)
_FROM_STATUS = {
    ReviewerStatus.OK: RowState.DONE,
    ReviewerStatus.FAILED: RowState.FAILED,
    ReviewerStatus.TIMEOUT: RowState.FAILED,
    ReviewerStatus.CANCELLED: RowState.CANCELLED,
    ReviewerStatus.CACHED: RowState.CACHED,
    ReviewerStatus.SKIPPED: RowState.SKIPPED,
}


@dataclass
class Transcript:
    """A session's streamed text and tool calls, in arrival order, bounded.

    Pieces get increasing sequence numbers, so a view appends only what is new and
    starts over when older pieces were dropped (``first`` moved past what it showed).
    """

    pieces: deque[str] = field(default_factory=deque)
    first: int = 0  # sequence number of pieces[0]
    size: int = 0

    @property
    def end(self) -> int:
        return self.first + len(self.pieces)

    def since(self, seq: int) -> list[str]:
        start = max(seq, self.first) - self.first
        return list(itertools.islice(self.pieces, start, None))

    @property
    def ends_line(self) -> bool:
        return not self.pieces or self.pieces[-1].endswith("\n")

    def add(self, text: str) -> None:
        if not text:
            return
        self.pieces.append(text)
        self.size += len(text)
        while self.size > TRANSCRIPT_LIMIT and len(self.pieces) > 1:
            self.size -= len(self.pieces.popleft())
            self.first += 1

    def add_line(self, line: str) -> None:
        self.add(("" if self.ends_line else "\n") + line + "\n")


@dataclass
class SessionRow:
    """One session (a reviewer on one chunk), as the live view shows it."""

    plan: PlannedSession
    state: RowState = RowState.QUEUED
    started: float | None = None
    ended: float | None = None
    tool_calls: int = 0
    last_tool: str = ""
    last_tool_seq: int = -1  # orders the latest tool call across a reviewer's sessions
    usage: Usage = field(default_factory=Usage)
    spent_before: Usage = field(default_factory=Usage)  # earlier attempts of this session
    findings: int = 0
    note: str = ""  # retry reason, "repairing output", the error
    transcript: Transcript = field(default_factory=Transcript)
    _calls: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return self.plan.key

    @property
    def total_usage(self) -> Usage:
        return self.usage if self.state.finished else self.spent_before + self.usage

    def elapsed(self, now: float) -> float:
        if self.started is None:
            return 0.0
        return max(0.0, (self.ended if self.ended is not None else now) - self.started)

    def reset(self) -> None:
        """Queued again (a re-run); the transcript is kept, with a marker."""
        self.state = RowState.QUEUED
        self.started = self.ended = None
        self.tool_calls, self.last_tool, self.findings, self.note = 0, "", 0, ""
        self.last_tool_seq = -1
        self.usage = self.spent_before = Usage()
        self._calls.clear()


@dataclass(frozen=True)
class ReviewerRow:
    """A reviewer's sessions added up; the state is the most telling of theirs."""

    agent: str
    sessions: tuple[SessionRow, ...]

    @property
    def state(self) -> RowState:
        states = [s.state for s in self.sessions]
        for live in (RowState.RETRYING, RowState.RUNNING):
            if live in states:
                return live
        if all(s is RowState.QUEUED for s in states):
            return RowState.QUEUED
        if not all(s.finished for s in states):
            return RowState.RUNNING  # some done, some still queued
        for bad in (RowState.FAILED, RowState.CANCELLED):
            if bad in states:
                return bad
        if all(s is RowState.CACHED for s in states):
            return RowState.CACHED
        if all(s is RowState.SKIPPED for s in states):
            return RowState.SKIPPED
        return RowState.DONE

    @property
    def finished(self) -> int:
        return sum(1 for s in self.sessions if s.state.finished)

    @property
    def tool_calls(self) -> int:
        return sum(s.tool_calls for s in self.sessions)

    @property
    def last_tool(self) -> str:
        return max(self.sessions, key=lambda s: s.last_tool_seq).last_tool

    @property
    def usage(self) -> Usage:
        return sum((s.total_usage for s in self.sessions), Usage())

    @property
    def findings(self) -> int:
        return sum(s.findings for s in self.sessions)

    @property
    def note(self) -> str:
        return next((s.note for s in self.sessions if s.note and s.state is self.state), "")

    def elapsed(self, now: float) -> float:
        starts = [s.started for s in self.sessions if s.started is not None]
        if not starts:
            return 0.0
        if all(s.state.finished for s in self.sessions):
            end = max((s.ended for s in self.sessions if s.ended is not None), default=now)
        else:
            end = now
        return max(0.0, end - min(starts))


@dataclass(frozen=True)
class Totals:
    sessions: int
    finished: int
    running: int
    failed: int
    usage: Usage
    findings: int  # as reported by sessions, before merging


class RunState:
    """Every session's row, folded from events. ``clock`` is injectable for snapshots."""

    def __init__(self, planned: Iterable[PlannedSession], clock: Callable[[], float]) -> None:
        self._clock = clock
        self.sessions: dict[str, SessionRow] = {}
        self._agents: dict[str, list[str]] = {}
        self._dirty: set[str] = set()
        self._tool_seq = 0
        self.structure_changed = False  # a session appeared that was not planned
        for p in planned:
            self._add(p)

    def _add(self, plan: PlannedSession) -> SessionRow:
        row = SessionRow(plan)
        self.sessions[plan.key] = row
        self._agents.setdefault(plan.agent, []).append(plan.key)
        self.structure_changed = True
        return row

    @property
    def agents(self) -> list[str]:
        return list(self._agents)

    def reviewer(self, agent: str) -> ReviewerRow:
        return ReviewerRow(agent, tuple(self.sessions[k] for k in self._agents.get(agent, ())))

    def now(self) -> float:
        return self._clock()

    def take_dirty(self) -> set[str]:
        dirty, self._dirty = self._dirty, set()
        return dirty

    def totals(self) -> Totals:
        rows = list(self.sessions.values())
        return Totals(
            sessions=len(rows),
            finished=sum(1 for r in rows if r.state.finished),
            running=sum(1 for r in rows if r.state in (RowState.RUNNING, RowState.RETRYING)),
            failed=sum(1 for r in rows if r.state is RowState.FAILED),
            usage=sum((r.total_usage for r in rows), Usage()),
            findings=sum(r.findings for r in rows),
        )

    @property
    def active(self) -> bool:
        return any(not r.state.finished for r in self.sessions.values())

    @property
    def clocks_running(self) -> bool:
        """Some row's elapsed time is counting, so the view changes without events."""
        return any(r.state in (RowState.RUNNING, RowState.RETRYING) for r in self.sessions.values())

    def requeue(self, keys: Iterable[str]) -> None:
        for key in keys:
            row = self.sessions.get(key)
            if row is not None:
                row.reset()
                row.transcript.add_line("── re-run ──")
                self._dirty.add(key)

    def apply(self, event: Event) -> None:
        row = self.sessions.get(event.key)
        if row is None:
            row = self._add(_unplanned(event))
        self._dirty.add(event.key)
        now = self._clock()
        if isinstance(event, SessionQueued):
            if row.state.finished:  # queued again: a re-run
                row.reset()
            return
        if isinstance(event, SessionFinished):
            self._finish(row, event, now)
            return
        if row.started is None:
            row.started = now
        if isinstance(event, SessionStarted):
            row.state = RowState.RUNNING
        elif isinstance(event, TextDelta):
            row.state = RowState.RUNNING
            row.transcript.add(event.text)
        elif isinstance(event, ToolCalled):
            row.state = RowState.RUNNING
            self._tool(row, event)
        elif isinstance(event, UsageUpdated):
            row.usage = event.usage
        elif isinstance(event, SessionRetrying):
            row.state = RowState.RETRYING
            row.spent_before = row.spent_before + row.usage
            row.usage = Usage()
            row.note = f"retry {event.attempt} in {event.delay_s:.1f}s: {_first_line(event.reason)}"
            row.transcript.add_line(f"↻ {row.note}")
        elif isinstance(event, SessionRepairing):
            row.state = RowState.RUNNING
            row.note = "repairing output"
            row.transcript.add_line("… the answer did not match the schema: one repair turn")

    def _tool(self, row: SessionRow, event: ToolCalled) -> None:
        call = event.call_id or f"{event.tool}\x1f{event.target}\x1f{row.tool_calls}"
        named = f"{event.tool} {event.target}".strip()
        if call not in row._calls:
            row._calls.add(call)
            row.tool_calls += 1
            row.last_tool = named
            row.last_tool_seq = self._tool_seq
            self._tool_seq += 1
            row.transcript.add_line(f"▸ {named}")
        if event.status == "error":
            row.transcript.add_line(f"✗ {named} failed")

    def _finish(self, row: SessionRow, event: SessionFinished, now: float) -> None:
        row.state = _FROM_STATUS[event.status]
        row.usage = event.usage
        row.findings = event.findings
        if row.started is None:
            row.started = now - event.duration_s
        row.ended = now
        if event.status is ReviewerStatus.TIMEOUT:
            row.note = event.error or "timed out"
        elif event.error:
            row.note = _first_line(event.error)
        else:
            row.note = ""
        plural = "" if event.findings == 1 else "s"
        summary = f"{row.state.value}: {event.findings} finding{plural}"
        if event.error:
            summary = f"{row.state.value}: {event.error}"
        row.transcript.add_line(f"■ {summary}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _unplanned(event: Event) -> PlannedSession:
    """A session the plan did not list (the verify stage's, say)."""
    if isinstance(event, SessionQueued):
        return PlannedSession(
            event.key,
            event.agent,
            event.runtime,
            None,
            event.chunk_index,
            event.chunk_count,
            event.paths,
        )
    return PlannedSession(event.key, event.agent, "", None, 0, 1, ())
