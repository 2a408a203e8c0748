"""Modal screens: help, confirm, dismiss reason, export. Each returns its answer via
``dismiss(...)``; the app decides what to do with it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

EXPORT_FORMATS = {"markdown": ".md", "json": ".json"}


class HelpScreen(ModalScreen[None]):
    """Every key, by where it works. Built from the bindings, so it cannot drift."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close")
    ]

    def __init__(self, sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> None:
        super().__init__()
        self._sections = sections

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold #ffd75f", no_wrap=True)
        table.add_column()
        for title, keys in self._sections:
            table.add_row(Text(title, style="bold underline"), "")
            for key, description in keys:
                table.add_row(key, description)
            table.add_row("", "")
        with Vertical(id="help-box", classes="dialog"):
            yield Label("council tui — keys", classes="dialog-title")
            with VerticalScroll():
                yield Static(table, id="help-keys")
            yield Label("esc closes", classes="dialog-hint")


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self._question, self._yes, self._no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._question, classes="dialog-title")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self._yes} (y)", variant="error", id="yes")
                yield Button(f"{self._no} (n)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class DismissScreen(ModalScreen[str | None]):
    """Asks for an optional reason; None means the user changed their mind."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str) -> None:
        super().__init__()
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Dismiss: {self._title}", classes="dialog-title")
            yield Label(
                "Reason (optional). It is saved in .council/dismissed.toml and the finding "
                "is left out of later reviews.",
                classes="dialog-hint",
            )
            yield Input(placeholder="e.g. false positive: the value is validated upstream")
            yield Label("enter dismisses · esc cancels", classes="dialog-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ExportScreen(ModalScreen[tuple[str, Path] | None]):
    """Format and file for exporting the whole review."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self._directory = directory

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Export the review", classes="dialog-title")
            yield Select(
                [(name, name) for name in EXPORT_FORMATS],
                value="markdown",
                allow_blank=False,
                id="export-format",
            )
            yield Input(value=str(self._directory / "council-review.md"), id="export-path")
            yield Label("enter writes the file · esc cancels", classes="dialog-hint")

    def on_select_changed(self, event: Select.Changed) -> None:
        path_input = self.query_one("#export-path", Input)
        current = Path(path_input.value)
        if isinstance(event.value, str) and current.suffix in EXPORT_FORMATS.values():
            path_input.value = str(current.with_suffix(EXPORT_FORMATS[event.value]))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = self.query_one("#export-format", Select).value
        if isinstance(value, str) and event.value.strip():
            self.dismiss((value, Path(event.value.strip()).expanduser()))

    def action_cancel(self) -> None:
        self.dismiss(None)
