"""Rollback preview: what the journal says was changed, undone newest first, then approve.

Rolling back from this screen approves every listed undo; the guest reboots a rollback may
need ("if needed") are listed per VM to approve or decline, as on the Confirm screen. A
declined reboot leaves that VM's undos done but waiting for its next reboot.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, Static

from fipswizard.engine.approvals import ApprovalItem
from fipswizard.engine.rollback import Undo
from screens.approval_list import ApprovalList
from screens.base import WizardScreen, target_label
from screens.command_table import bindings_for
from screens.results import Nav, RunChoice

REBOOTS = (
    "[b]Approve per VM[/b] the reboot that makes its undone changes take effect: \\[x] "
    "approved, \\[ ] declined; Space toggles, a all, n none. A reboot runs only if needed; "
    "a declined one leaves the VM partly rolled back until its next reboot."
)


def undo_markup(undos: list[Undo], journal: Path) -> str:
    lines = [
        f"Journal: {escape(str(journal))}",
        "",
        f"[b]{len(undos)} change(s) to undo, newest first:[/b]",
    ]
    for n, undo in enumerate(undos, 1):
        risk = undo.step.risk
        style = "$warning b" if risk.needs_confirmation else "$primary"
        what = f"{target_label(undo.begun.target)}: undo '{undo.step.title}'"
        lines.append(f"{n:>3}. [{style}]\\[{risk}][/] {escape(what)}")
    lines += [
        "",
        "Subscription features stay registered (they are subscription-wide); "
        "use `fipswizard rollback --unregister-feature` to undo them too.",
    ]
    return "\n".join(lines)


class RollbackScreen(WizardScreen[RunChoice | Nav]):
    COMMANDS_ID = "rollback"
    PHASE = "summary"
    BINDINGS = bindings_for("rollback")

    def __init__(self, undos: list[Undo], journal: Path, items: Sequence[ApprovalItem]) -> None:
        super().__init__()
        self.undos, self.journal, self.items = undos, journal, list(items)
        self.reboots = [i for i in self.items if i.conditional]

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="rollback-scroll"):
            yield Static(undo_markup(self.undos, self.journal), id="rollback-text")
        if self.reboots:
            yield Static(REBOOTS, id="rollback-reboots-text")
            yield ApprovalList(self.reboots, id="approvals")
        with Horizontal(classes="nav-buttons"):
            yield Button("Back", id="back")
            yield Button("Roll back", id="next", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#back", Button).focus()

    def action_next(self) -> None:
        """Every listed undo is approved by rolling back; each reboot as ticked."""
        chosen = {i.key for i in self.items if not i.conditional}
        if self.reboots:
            chosen |= self.query_one(ApprovalList).approved
        self.dismiss(
            RunChoice(approved=frozenset(chosen), known=frozenset(i.key for i in self.items))
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            self.action_next()
        else:
            self.dismiss(Nav.BACK)
