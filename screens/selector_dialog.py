"""The target screen's "Select by rule" dialog: the selectors `recipe new` takes, in the
current subscription. It only collects the text; the target screen resolves it (a worker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label


@dataclass(frozen=True)
class RuleAnswer:
    whole_group: bool
    tags: str
    query: str
    exclude: str


class SelectorDialog(ModalScreen[RuleAnswer | None]):
    """Whole resource group, tags KEY=VALUE, a Resource Graph query, exclusions."""

    COMMANDS_ID: ClassVar[str] = "dialog"
    BINDINGS = [Binding("escape", "close", "Cancel")]

    def __init__(self, subscription: str, group: str, previous: RuleAnswer | None = None) -> None:
        super().__init__(classes="dialog")
        self.subscription, self.group = subscription, group
        self.previous = previous or RuleAnswer(False, "", "", "")

    def compose(self) -> ComposeResult:
        p = self.previous
        with Vertical(classes="dialog-box"):
            yield Label(
                escape(f"Select by rule in subscription {self.subscription or '(none)'}"),
                classes="dialog-title",
            )
            yield Checkbox(
                f"every VM of resource group {self.group or '(none)'}", p.whole_group, id="rg"
            )
            yield Input(p.tags, placeholder="tags: KEY=VALUE, KEY=VALUE", id="tags")
            yield Input(p.query, placeholder="Resource Graph query (KQL), | project id", id="kql")
            yield Input(p.exclude, placeholder="exclude: NAME or RG/NAME ...", id="exclude")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Select", id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#rg", Checkbox).focus()

    def _submit(self) -> None:
        self.dismiss(
            RuleAnswer(
                self.query_one("#rg", Checkbox).value,
                self.query_one("#tags", Input).value,
                self.query_one("#kql", Input).value,
                self.query_one("#exclude", Input).value,
            )
        )

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
