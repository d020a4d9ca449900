"""The gate's one modal: items the Confirm screen could not know (the read phase found them),
per VM, approve all or choose; never a question in the middle of the run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from fipswizard.engine.approvals import ApprovalItem
from screens.approval_list import ApprovalList

Keys = set[tuple[str, str]]


class ApprovalScreen(ModalScreen[Keys]):
    COMMANDS_ID: ClassVar[str] = "dialog"
    BINDINGS = [Binding("escape", "decline_all", "Decline all")]

    def __init__(self, items: Sequence[ApprovalItem]) -> None:
        super().__init__(classes="dialog")
        self.items = list(items)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("Approve before the first write", classes="dialog-title")
            yield Static(
                "Reading the VMs showed these steps too. Nothing has been written "
                "yet. [x] approved, [ ] declined; Space toggles."
            )
            yield ApprovalList(self.items, id="gate-approvals")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Approve all", id="all", variant="warning")
                yield Button("Approve as chosen", id="chosen", variant="warning")
                yield Button("Decline all", id="none", variant="primary")

    def on_mount(self) -> None:
        self.query_one(ApprovalList).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "all":
            self.dismiss({i.key for i in self.items})
        elif event.button.id == "chosen":
            self.dismiss(set(self.query_one(ApprovalList).approved))
        else:
            self.action_decline_all()

    def action_decline_all(self) -> None:
        self.dismiss(set())
