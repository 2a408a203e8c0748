"""The terminal UI (``council tui``): a live view of the reviewer sessions and a review browser.

Only ``app``, ``screens``, ``widgets`` and ``launch`` import textual (the state, the
browser model, rendering and the runs are plain Python); ``council`` loads this
package only when the TUI starts. The app drives a ``ReviewRun`` (``run.py``)
that it gets from a factory, so tests hand it a scripted one.
"""
