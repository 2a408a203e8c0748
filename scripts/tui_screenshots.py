"""Write the README's TUI screenshots (docs/tui-*.svg) from the deterministic demo review.

    python scripts/tui_screenshots.py

The data is coordinator.tui.demo's: no model, no network, the same picture every run.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from coordinator.tui.app import CouncilApp  # noqa: E402
from coordinator.tui.demo import demo_run  # noqa: E402

SHOTS = {
    # file name: (terminal size, keys pressed after the demo is on screen)
    "tui-live.svg": ((120, 34), ()),
    "tui-review.svg": ((150, 38), ("2", "down")),
}


async def shoot(name: str, size: tuple[int, int], keys: tuple[str, ...], out: Path) -> None:
    run = demo_run(Path("/repo"))
    app = CouncilApp(lambda: run, clock=run.clock)
    async with app.run_test(size=size) as pilot:
        await run.wait_drained()
        await pilot.pause(0.25)
        app.clear_notifications()
        await pilot.press(*keys)
        await pilot.pause(0.25)
        app.clear_notifications()
        await pilot.pause()
        app.save_screenshot(name, str(out))


def main() -> None:
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    for name, (size, keys) in SHOTS.items():
        asyncio.run(shoot(name, size, keys, out))
        print(f"wrote {out / name}")


if __name__ == "__main__":
    main()
