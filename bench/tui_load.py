"""TUI under load: 50 scripted sessions each emitting 50 events a second; update lag.

The real ``CouncilApp``, as shipped (its default gap between repaints), runs on a
200x60 screen driven by a ``ReviewRun`` whose 50 sessions emit events on a fixed
timetable from the app's own event loop: mostly streamed text, every 10th a tool
call, every 25th a usage update; each ends with its result. The log pane follows
one session, so every piece of its text is drawn as it arrives. The driver is
Textual's headless one except that it says it is not headless, so each frame is
also encoded for the terminal, as in a real one; the bytes are thrown away.

Lag of one event = the moment the screen showed it minus the moment it was due:
the emitter's own delay (an overloaded loop runs the timetable late), plus the
wait for the next repaint, plus the repaint, plus Textual's refresh of the screen
after it (measured with ``call_after_refresh``). The baseline, measured in the
same run, is one session at the same rate.

    python -m bench.tui_load [--sessions N] [--rate EVENTS_PER_S] [--seconds S] [--gaps S ...]
"""

from __future__ import annotations

import argparse
import bisect
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from textual.drivers.headless_driver import HeadlessDriver

from coordinator.events import (
    Event,
    SessionFinished,
    SessionStarted,
    TextDelta,
    ToolCalled,
    Usage,
    UsageUpdated,
)
from coordinator.review import Review, ReviewerStatus
from coordinator.tui import app as tui_app
from coordinator.tui.app import CouncilApp
from coordinator.tui.demo import demo_diff, demo_findings, demo_review
from coordinator.tui.run import PlannedSession, RunOverview, UpdateSink
from coordinator.tui.widgets.live import AGENT_ROW, SESSION_ROW, ReviewerTable

REFRESH_S = tui_app.REPAINT_GAP_S  # the app's default
FOLLOWED = SESSION_ROW + "correctness#1"  # the session whose log is on screen
AGENTS = ("correctness", "security", "performance", "tests", "maintainability", "guidelines")


@dataclass
class LoadRun:
    """A ReviewRun whose sessions emit events on a timetable; it notes when each was due."""

    sessions: int
    rate: float
    seconds: float
    due: list[float] = field(default_factory=list)  # perf_counter when each event was due
    stalls: list[float] = field(default_factory=list)  # gaps between 5 ms heartbeats
    done: anyio.Event = field(default_factory=anyio.Event)  # every event was handed over
    sent: list[float] = field(default_factory=list)  # ... and when it was handed to the app

    def __post_init__(self) -> None:
        chunks = -(-self.sessions // len(AGENTS))
        self._overview = RunOverview(
            repo=Path("."),
            source="load test",
            diff=demo_diff(),
            sessions=tuple(
                PlannedSession(
                    f"{AGENTS[i % len(AGENTS)]}#{i // len(AGENTS) + 1}",
                    AGENTS[i % len(AGENTS)],
                    "scripted",
                    "scripted/m",
                    i // len(AGENTS),
                    chunks,
                    (f"app/module_{i}.py",),
                )
                for i in range(self.sessions)
            ),
        )

    @property
    def overview(self) -> RunOverview:
        return self._overview

    async def run(self, sink: UpdateSink) -> Review:
        start = time.perf_counter() + 0.5  # let the app settle first
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._heartbeat)
            async with anyio.create_task_group() as streams:
                for i, planned in enumerate(self._overview.sessions):
                    # Sessions are spread over one period, as independent streams would be.
                    offset = i / (self.rate * max(1, self.sessions))
                    streams.start_soon(self._stream, planned, start + offset, sink)
            tg.cancel_scope.cancel()
        sink(demo_findings())
        self.done.set()
        return demo_review()

    async def _heartbeat(self) -> None:
        last = time.perf_counter()
        while True:
            await anyio.sleep(0.005)
            now = time.perf_counter()
            self.stalls.append(now - last)
            last = now

    async def _stream(self, planned: PlannedSession, start: float, sink: UpdateSink) -> None:
        key, agent = planned.key, planned.agent
        await _sleep_until(start)
        self._send(SessionStarted(key, agent, f"ses-{key}"), start, sink)
        count = int(self.rate * self.seconds)
        for n in range(1, count + 1):
            due = start + n / self.rate
            await _sleep_until(due)
            event: Event
            if n % 25 == 0:
                event = UsageUpdated(key, agent, Usage(100 * n, 4 * n, 0.0001 * n))
            elif n % 10 == 0:
                event = ToolCalled(key, agent, "read", f"app/module_{n}.py", "completed", str(n))
            else:
                event = TextDelta(key, agent, f"token {n} ")
            self._send(event, due, sink)
        done = start + (count + 1) / self.rate
        await _sleep_until(done)
        usage = Usage(100 * count, 4 * count, 0.0001 * count)
        self._send(SessionFinished(key, agent, ReviewerStatus.OK, 0, usage, 1.0), done, sink)

    def _send(self, event: Event, due: float, sink: UpdateSink) -> None:
        self.due.append(due)
        self.sent.append(time.perf_counter())
        sink(event)

    async def rerun(self, keys: Sequence[str], sink: UpdateSink) -> Review:
        return demo_review()

    def cancel(self, key: str) -> None:
        return None

    def cancel_all(self) -> None:
        return None

    async def read_new_file(self, path: str) -> str | None:
        return None


async def _sleep_until(moment: float) -> None:
    delay = moment - time.perf_counter()
    if delay > 0:
        await anyio.sleep(delay)


class TerminalDriver(HeadlessDriver):
    """No terminal, but the app encodes every frame for one (headless, it skips that)."""

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        return None


class MeasuredApp(CouncilApp):
    """The app as shipped; each repaint notes when it started and when it reached the screen."""

    # Textual reads CSS_PATH relative to the module of the class that sets it.
    CSS_PATH = str(Path(tui_app.__file__).parent / str(CouncilApp.CSS_PATH))

    def __init__(self, run: LoadRun, refresh_s: float) -> None:
        super().__init__(lambda: run, refresh_s=refresh_s)
        self.driver_class = TerminalDriver
        self.paints: list[tuple[float, float]] = []  # (started, shown on screen)
        self.paint_cost: list[float] = []

    def _paint(self) -> None:
        started = time.perf_counter()
        super()._paint()
        self.paint_cost.append(time.perf_counter() - started)
        self.call_after_refresh(lambda: self.paints.append((started, time.perf_counter())))


@dataclass
class Result:
    events: int
    lags: list[float]  # of the events shown; ``events - len(lags)`` never were
    emitter: list[float]
    paint_cost: list[float]
    stalls: list[float]  # how long the event loop went between 5 ms heartbeats


def measure(sessions: int, rate: float, seconds: float, refresh_s: float = REFRESH_S) -> Result:
    run = LoadRun(sessions, rate, seconds)
    app = MeasuredApp(run, refresh_s)

    async def main() -> None:
        # Not headless: Textual then runs the app's driver_class, our TerminalDriver.
        async with app.run_test(headless=False, size=(200, 60)) as pilot:
            # The log follows one session, which it shows piece by piece as it streams
            # (a reviewer's several chunks it would show a whole line at a time).
            table = app.query_one(ReviewerTable)
            while not table.row_count:  # the first repaint builds the rows
                await pilot.pause(0.01)
            # A reviewer of one session has no chunk rows: its own row is that session.
            followed = FOLLOWED if FOLLOWED in table.rows else AGENT_ROW + "correctness"
            table.move_cursor(row=table.get_row_index(followed), animate=False)
            # Not pilot.pause() in a loop: it would force a screen update and post a
            # message to every widget each time, load a real terminal never adds.
            await run.done.wait()
            while app.review is None:
                await pilot.pause(0.05)
            await pilot.pause(0.3)  # the last repaints

    anyio.run(main, backend="asyncio")
    starts = [s for s, _ in app.paints]
    lags = []
    for due, sent in zip(run.due, run.sent, strict=True):
        i = bisect.bisect_left(starts, sent)  # the first repaint after the app had it
        if i < len(app.paints):
            lags.append(app.paints[i][1] - due)
    emitter = [sent - due for due, sent in zip(run.due, run.sent, strict=True)]
    return Result(len(run.due), lags, emitter, app.paint_cost, run.stalls)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(x: float) -> str:
    return f"{x * 1000:6.1f}"


def report(label: str, r: Result, seconds: float) -> None:
    unshown = r.events - len(r.lags)
    print(
        f"{label:<34} lag ms: p50 {ms(statistics.median(r.lags))}  p95 {ms(pct(r.lags, 0.95))}"
        f"  p99 {ms(pct(r.lags, 0.99))}  max {ms(max(r.lags))}   ({r.events:,} events, "
        f"{r.events / seconds:,.0f}/s" + (f"; {unshown:,} never shown!)" if unshown else ")")
    )
    print(
        f"{'':<34} loop stalls ms: max {ms(max(r.stalls))}, {sum(g > 0.05 for g in r.stalls)} over"
        f" 50 ms; emitter late p99 {ms(pct(r.emitter, 0.99))}; {len(r.paint_cost) / seconds:.0f}"
        f" repaints/s, p50 {ms(statistics.median(r.paint_cost))} max {ms(max(r.paint_cost))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rate", type=float, default=50.0, help="events per second per session")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--gaps", type=float, nargs="*", default=[], help="also try these gaps between repaints"
    )
    args = parser.parse_args()
    n, rate, secs = args.sessions, args.rate, args.seconds
    print(
        f"TUI load: {n} sessions x {rate:g} events/s for {secs:g}s; the app repaints when updates"
        f" arrive, at most every {REFRESH_S:g}s (its default)"
    )
    light = measure(1, rate, secs)
    loaded = measure(n, rate, secs)
    report("1 session (baseline)", light, secs)
    report(f"{n} sessions, the app as shipped", loaded, secs)
    print(
        f"p99 lag under load / baseline = {pct(loaded.lags, 0.99) / pct(light.lags, 0.99):.2f}x;"
        f" p99 {pct(loaded.lags, 0.99) * 1000:.0f} ms, max {max(loaded.lags) * 1000:.0f} ms"
        " (target < 100 ms)"
    )
    if args.gaps:
        print("what-if, same load (not what ships):")
    for gap in args.gaps:
        report(f"repaints at most every {gap:g}s", measure(n, rate, secs, gap), secs)


if __name__ == "__main__":
    main()
