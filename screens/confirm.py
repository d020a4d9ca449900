"""Phase 4: the disruptive and irreversible steps named again, then the go-ahead."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, Checkbox, Static

from fipswizard.plan import Plan
from fipswizard.steps import Step
from screens.base import WizardScreen
from screens.commands import bindings_for
from screens.results import Nav, RunChoice


def _group(pairs: list[tuple[Step, str]]) -> list[str]:
    """One line per step title: its risk, the VMs it touches, and what it costs."""
    groups: dict[str, list[tuple[Step, str]]] = {}
    for step, when in pairs:
        groups.setdefault(step.title, []).append((step, when))
    lines = []
    for title, items in groups.items():
        step, when = items[0]
        vms = ", ".join(dict.fromkeys(s.target.rsplit("/", 1)[-1] for s, _ in items))
        lines.append(f"[$warning b]\\[{step.risk}][/] [b]{escape(title)}[/b]{escape(when)}")
        lines.append(f"      on: {escape(vms)}")
        lines.append(f"      asks, e.g.: {escape(step.confirmation())}")
    return lines


def risky_lines(plan: Plan) -> tuple[list[str], list[str]]:
    """(steps of the plan that need confirmation, fixes validation may propose), as markup."""
    steps = [(s, "") for u in plan.units for s in u.steps if s.risk.needs_confirmation]
    fixes = [(f, " (only if validation fails)") for u in plan.units
             for f in dict.fromkeys(u.fixes.values()) if f.risk.needs_confirmation]
    return _group(steps), _group(fixes)


def confirm_markup(plan: Plan) -> str:
    steps, fixes = risky_lines(plan)
    writes = sum(1 for u in plan.units for s in u.steps if s.risk.value != "read-only")
    lines = [f"The run changes {len(plan.vm_units)} VM(s) in {writes} step(s); each write is "
             "journalled before and after, so it can be resumed or rolled back.", ""]
    lines.append("[b]Disruptive or irreversible steps in the plan:[/b]")
    lines += [f"  {line}" for line in steps] or ["  none"]
    lines += ["", "[b]Fixes the run may propose after validation (asked each time, with the "
              "diagnosis):[/b]"]
    lines += [f"  {line}" for line in fixes] or ["  none"]
    return "\n".join(lines)


class ConfirmScreen(WizardScreen[RunChoice | Nav]):
    COMMANDS_ID = "confirm"
    BINDINGS = bindings_for("confirm")

    def __init__(self, plan: Plan) -> None:
        super().__init__()
        self.plan = plan

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="confirm-scroll"):
            yield Static(confirm_markup(self.plan), id="confirm-text")
        ask = Checkbox("Ask again before each disruptive step of the plan", id="ask-each")
        ask.tooltip = ("Off: running approves the plan's disruptive steps listed above. "
                       "Fixes are always asked.")
        yield ask
        with Horizontal(classes="nav-buttons"):
            yield Button("Back", id="back")
            yield Button("Run", id="next", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#next", Button).focus()

    def action_next(self) -> None:
        self.dismiss(RunChoice(ask_each=self.query_one("#ask-each", Checkbox).value))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            self.action_next()
        else:
            self.dismiss(Nav.BACK)
