"""A ReviewRun that replays what it is fed: for tests, screenshots and UI benchmarks.

Nothing runs: the caller feeds events, findings and clock ticks; the run passes them
to the app in order, and records what the app asked for (cancel, cancel all, re-run)
so a test can check that the request reached the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import anyio
import anyio.lowlevel

from coordinator.events import SessionFinished, Usage
from coordinator.review import Review, ReviewerStatus
from coordinator.tui.run import RunOverview, RunUpdate, UpdateSink


@dataclass
class FakeClock:
    """A monotonic clock that moves only when told: elapsed times in screenshots are fixed."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Tick:
    """Advance the fake clock when the run reaches this point of the script."""

    seconds: float


@dataclass(frozen=True)
class Finish:
    """End the current ``run``/``rerun`` call, returning this review."""

    review: Review


ScriptItem = RunUpdate | Tick | Finish


@dataclass
class ScriptedReviewRun:
    overview: RunOverview
    review: Review  # returned when the run is cancelled as a whole
    files: Mapping[str, str] = field(default_factory=dict)
    clock: FakeClock = field(default_factory=FakeClock)
    cancelled: list[str] = field(default_factory=list)
    cancelled_all: bool = False
    reruns: list[list[str]] = field(default_factory=list)
    consumed: int = 0  # script items handed to the app so far

    def __post_init__(self) -> None:
        self._pending: deque[ScriptItem] = deque()
        self._fed_more = anyio.Event()
        self._finished: set[str] = set()
        self._fed = 0
        self._idle = anyio.Event()

    # -- the script ----------------------------------------------------------------------

    def feed(self, *items: ScriptItem) -> None:
        for item in items:
            self._pending.append(item)
            self._fed += 1
        self._fed_more.set()
        if not self.drained and self._idle.is_set():
            self._idle = anyio.Event()

    @property
    def drained(self) -> bool:
        return self.consumed >= self._fed

    async def wait_drained(self) -> None:
        """Until every item fed so far has been handed to the app."""
        if not self.drained:
            await self._idle.wait()

    # -- ReviewRun -----------------------------------------------------------------------

    async def run(self, sink: UpdateSink) -> Review:
        return await self._replay(sink)

    async def rerun(self, keys: Sequence[str], sink: UpdateSink) -> Review:
        self.reruns.append(list(keys))
        self._finished.difference_update(keys)
        return await self._replay(sink)

    def cancel(self, key: str) -> None:
        self.cancelled.append(key)
        if key not in self._finished:
            self.feed(_cancelled(key))

    def cancel_all(self) -> None:
        self.cancelled_all = True
        unfinished = [s.key for s in self.overview.sessions if s.key not in self._finished]
        self.feed(*(_cancelled(k) for k in unfinished), Finish(self.review))

    async def read_new_file(self, path: str) -> str | None:
        return self.files.get(path)

    async def _next(self) -> ScriptItem:
        while not self._pending:
            self._fed_more = anyio.Event()
            await self._fed_more.wait()
        return self._pending.popleft()

    async def _replay(self, sink: UpdateSink) -> Review:
        while True:
            item = await self._next()
            self.consumed += 1
            if self.drained:
                self._idle.set()
            if isinstance(item, Finish):
                return item.review
            if isinstance(item, Tick):
                self.clock.now += item.seconds
                continue
            if isinstance(item, SessionFinished):
                self._finished.add(item.key)
            sink(item)
            if self.consumed % 200 == 0:
                await (
                    anyio.lowlevel.checkpoint()
                )  # a long script must not starve the app's event loop


def _cancelled(key: str) -> SessionFinished:
    agent = key.split("#", 1)[0]
    return SessionFinished(
        key, agent, ReviewerStatus.CANCELLED, 0, Usage(), 0.0, "cancelled before it finished"
    )
