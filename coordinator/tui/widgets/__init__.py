"""Textual widgets of the TUI: ``live`` (the sessions) and ``review`` (the findings)."""
