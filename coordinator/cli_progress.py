"""Progress on stderr for ``council review``: live lines on a terminal, one summary line otherwise."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text

from coordinator.events import (
    Event,
    SessionFinished,
    SessionQueued,
    SessionRepairing,
    SessionRetrying,
    SessionStarted,
    ToolCalled,
)
from coordinator.review import Review, ReviewerStatus


@dataclass
class ReviewerLine:
    agent: str
    sessions: int = 0
    running: int = 0
    finished: int = 0
    tool_calls: int = 0
    last_tool: str = ""
    findings: int = 0
    started: float | None = None
    ended: float | None = None
    failures: list[str] = field(default_factory=list)
    note: str = ""

    def render(self, now: float) -> Text:
        elapsed = ((self.ended or now) - self.started) if self.started else 0.0
        if self.finished == self.sessions and self.sessions:
            if self.failures:
                state, style = "failed", "red"
                detail = self.failures[0].splitlines()[0][:80]
            else:
                state, style = "done", "green"
                detail = f"{self.findings} finding{'s' if self.findings != 1 else ''}"
        elif self.started is None:
            state, style, detail = "queued", "dim", ""
        else:
            state, style = "running", "cyan"
            detail = f"{self.tool_calls} tool calls"
            if self.last_tool:
                detail += f", last: {self.last_tool}"
            if self.note:
                detail += f" ({self.note})"
        parts = f" {self.finished}/{self.sessions}" if self.sessions > 1 else ""
        line = Text(f"{self.agent:<16}", style="bold")
        line.append(f"{state:<8}", style=style)
        line.append(f"{parts:<7}{elapsed:6.1f}s  {detail}")
        return line


class ProgressDisplay:
    """An EventSink. ``live`` is for terminals; otherwise only ``summary`` prints."""

    def __init__(self, stream: TextIO, *, live: bool) -> None:
        self._lines: dict[str, ReviewerLine] = {}
        self._console = Console(file=stream, stderr=True, highlight=False)
        self._live: Live | None = (
            Live(
                console=self._console,
                refresh_per_second=8,
                transient=False,
                get_renderable=self._renderable,
            )
            if live
            else None
        )
        self._stream = stream
        self._started = time.monotonic()

    def __enter__(self) -> ProgressDisplay:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def _renderable(self) -> Text:
        now = time.monotonic()
        return Text("\n").join(line.render(now) for line in self._lines.values())

    def __call__(self, event: Event) -> None:
        line = self._lines.setdefault(event.agent, ReviewerLine(event.agent))
        if isinstance(event, SessionQueued):
            line.sessions += 1
        elif isinstance(event, SessionStarted):
            line.running += 1
            line.started = line.started or time.monotonic()
        elif isinstance(event, ToolCalled):
            if event.status == "running":
                line.tool_calls += 1
                line.last_tool = f"{event.tool} {event.target}".strip()[:60]
        elif isinstance(event, SessionRetrying):
            line.note = f"retry {event.attempt}: {event.reason[:40]}"
        elif isinstance(event, SessionRepairing):
            line.note = "repairing output"
        elif isinstance(event, SessionFinished):
            line.finished += 1
            line.running = max(0, line.running - 1)
            line.findings += event.findings
            line.started = line.started or time.monotonic() - event.duration_s
            if event.status not in (ReviewerStatus.OK, ReviewerStatus.CACHED):
                line.failures.append(f"{event.status.value}: {event.error or ''}")
            if line.finished == line.sessions:
                line.ended = time.monotonic()

    def summary(self, review: Review) -> None:
        ok = sum(
            1 for r in review.reviewers if r.status in (ReviewerStatus.OK, ReviewerStatus.CACHED)
        )
        bad = [
            r
            for r in review.reviewers
            if r.status not in (ReviewerStatus.OK, ReviewerStatus.CACHED, ReviewerStatus.SKIPPED)
        ]
        cost = sum(r.cost_usd for r in review.reviewers)
        tokens = sum(r.tokens_in + r.tokens_out for r in review.reviewers)
        text = (
            f"council: {len(review.reviewers)} reviewers ({ok} ok, {len(bad)} failed), "
            f"{len(review.findings)} findings, {len(review.rejected)} rejected, "
            f"{len(review.unreviewed)} unreviewed, {tokens} tokens, ${cost:.4f}, "
            f"{time.monotonic() - self._started:.1f}s"
        )
        self._stream.write(text + "\n")
        for report in bad:
            self._stream.write(f"council: {report.agent} {report.status.value}: {report.error}\n")
        self._stream.flush()
