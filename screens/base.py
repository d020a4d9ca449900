"""What every wizard phase screen shares: header, the phase bar, the footer, its commands."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from rich.errors import StyleSyntaxError
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.markup import escape
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from fipswizard.context import key_name
from screens.command_table import SCREEN_HELP

ResultT = TypeVar("ResultT")

PHASES = (
    ("target", "Target"),
    ("preflight", "Preflight"),
    ("plan", "Plan"),
    ("confirm", "Confirm"),
    ("run", "Run"),
    ("validation", "Validation"),
    ("summary", "Summary"),
)


def phase_markup(current: str) -> str:
    """ "1 Target > 2 Preflight > ..." with the current phase picked out."""
    parts = []
    for n, (key, label) in enumerate(PHASES, 1):
        text = f"{n} {label}"
        parts.append(f"[b $accent]{text}[/]" if key == current else f"[$text-muted]{text}[/]")
    return " › ".join(parts)


def target_label(key: str) -> str:
    """A target key as a person reads it: the VM name, or a short subscription id."""
    return key_name(key)


class PhaseBar(Static):
    def __init__(self, phase: str) -> None:
        super().__init__(phase_markup(phase), id="phase-bar")


class WizardScreen(Screen[ResultT]):
    """A phase: subclasses set COMMANDS_ID and BINDINGS (from commands.py) and compose_body."""

    COMMANDS_ID: ClassVar[str] = "home"
    PHASE: ClassVar[str] = ""  # the phase the bar highlights (defaults to COMMANDS_ID)

    # Set by the wizard before the screen is shown when the run resumes a journal: what the
    # earlier run already did (Preflight, Plan and Confirm must not read as a fresh start).
    resume_note: str = ""

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield PhaseBar(self.PHASE or self.COMMANDS_ID)
        if self.resume_note:
            yield Static(escape(self.resume_note), id="resume-note")
        with Vertical(id="body"):
            yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static(SCREEN_HELP.get(self.COMMANDS_ID, ""))

    def action_back(self) -> None:
        from screens.results import Nav

        self.dismiss(Nav.BACK)  # type: ignore[arg-type]

    def action_next(self) -> None:
        from screens.results import Nav

        self.dismiss(Nav.NEXT)  # type: ignore[arg-type]

    def themed(self, text: str, variable: str) -> Text:
        """Table cells are Rich text: colour them from the theme's variables, never a literal.

        A variable that is not a plain colour (text-muted is "auto 60%") renders dim."""
        value = self.app.theme_variables.get(variable, "")
        try:
            style = Style.parse(value) if value else Style()
        except StyleSyntaxError:
            style = Style(dim=True)
        return Text(text, style=style)

    def focused_help(self) -> str:
        """F1 help for the focused widget: its tooltip, else its kind."""
        widget = self.focused
        if widget is None:
            return ""
        tip: Any = widget.tooltip
        return str(tip) if tip else type(widget).__name__
