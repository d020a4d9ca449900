"""Rollback preview: what the journal says was changed, undone newest first, then confirm."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, Static

from fipswizard.engine.rollback import Undo
from screens.base import WizardScreen, target_label
from screens.command_table import bindings_for
from screens.results import Nav


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


class RollbackScreen(WizardScreen[Nav]):
    COMMANDS_ID = "rollback"
    PHASE = "summary"
    BINDINGS = bindings_for("rollback")

    def __init__(self, undos: list[Undo], journal: Path) -> None:
        super().__init__()
        self.undos, self.journal = undos, journal

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="rollback-scroll"):
            yield Static(undo_markup(self.undos, self.journal), id="rollback-text")
        with Horizontal(classes="nav-buttons"):
            yield Button("Back", id="back")
            yield Button("Roll back", id="next", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#back", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(Nav.NEXT if event.button.id == "next" else Nav.BACK)
