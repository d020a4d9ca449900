"""The screen under every phase: what the wizard is doing between phases (reading, starting)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.markup import escape
from textual.widgets import LoadingIndicator, Static

from screens.base import PhaseBar, WizardScreen, phase_markup
from screens.command_table import bindings_for
from screens.messages import PhaseEntered


class HomeScreen(WizardScreen[None]):
    COMMANDS_ID = "home"
    BINDINGS = bindings_for("home")

    def __init__(self) -> None:
        super().__init__()
        self.latest = PhaseEntered("target", "Starting...", busy=True)

    def compose_body(self) -> ComposeResult:
        yield Static(
            "fipswizard: FIPS 140-3 on Azure Linux VMs, control plane and guest.", id="home-title"
        )
        yield Static(id="home-status")
        yield LoadingIndicator(id="home-busy")

    def on_mount(self) -> None:
        self._apply()

    def show_phase(self, message: PhaseEntered) -> None:
        """Called by the app's handler: the phase bar, the status line and the busy spinner."""
        self.latest = message
        self._apply()

    def _apply(self) -> None:
        try:
            self.query_one(PhaseBar).update(phase_markup(self.latest.phase))
            self.query_one("#home-status", Static).update(escape(self.latest.status))
            self.query_one("#home-busy", LoadingIndicator).display = self.latest.busy
        except NoMatches:  # not composed yet: on_mount applies the latest
            pass
