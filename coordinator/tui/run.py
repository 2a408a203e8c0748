"""What the TUI drives: the ``ReviewRun`` protocol and the updates a run reports.

The app never touches runtimes, git or the network; it holds a ReviewRun and reacts
to the updates it sends. ``live.LiveReviewRun`` adapts the real pipeline; tests and
screenshots use a scripted one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from coordinator.diff.model import Diff
from coordinator.dismissals import Dismissals
from coordinator.events import Event
from coordinator.findings import ReportedFinding, ReviewFinding, Unreviewed
from coordinator.review import FailOn, Review


@dataclass(frozen=True)
class PlannedSession:
    """One assignment (one reviewer on one chunk of the diff), known before it runs."""

    key: str  # "agent#chunk", as in events
    agent: str
    runtime: str
    model: str | None
    chunk_index: int  # 0-based
    chunk_count: int
    paths: tuple[str, ...]

    @property
    def chunk_label(self) -> str:
        """Which chunk of the reviewer's share this is: "2/5"."""
        return f"{self.chunk_index + 1}/{self.chunk_count}"


@dataclass(frozen=True)
class RunOverview:
    """What is known before any session starts."""

    repo: Path
    source: str  # "working tree vs HEAD", "main...feature", ...
    diff: Diff
    sessions: tuple[PlannedSession, ...]
    unreviewed: tuple[Unreviewed, ...] = ()
    dismissals: Dismissals = field(default_factory=Dismissals)
    show_dismissed: bool = False
    fail_on: FailOn = FailOn.HIGH


@dataclass(frozen=True)
class FindingsUpdate:
    """The ranked findings over every session finished so far (dismissals not applied).

    ``members`` maps a finding id to what each reviewer reported for it (their wording).
    ``final`` is set once the review is assembled (after the verify stage, when on).
    """

    findings: tuple[ReviewFinding, ...]
    members: Mapping[str, tuple[ReportedFinding, ...]]
    final: bool = False


RunUpdate = Event | FindingsUpdate
UpdateSink = Callable[[RunUpdate], None]


class ReviewRun(Protocol):
    """One review, as a front end drives it.

    ``run`` and ``rerun`` report progress through ``sink`` (synchronously, on the
    caller's event loop, possibly thousands of times a second: a sink must be cheap)
    and return the review assembled from every session's latest outcome.
    """

    @property
    def overview(self) -> RunOverview: ...

    async def run(self, sink: UpdateSink) -> Review:
        """Run every session; after ``cancel_all``, return the partial review."""
        ...

    async def rerun(self, keys: Sequence[str], sink: UpdateSink) -> Review:
        """Run these sessions again (e.g. after they failed); the others keep their outcome."""
        ...

    def cancel(self, key: str) -> None:
        """Abort one session (queued or running); it ends as cancelled."""
        ...

    def cancel_all(self) -> None:
        """Abort every session that has not finished."""
        ...

    async def read_new_file(self, path: str) -> str | None:
        """The new side of a changed file (for context outside the diff hunks)."""
        ...
