"""Phase 3: the dry run, rendered by fipswizard.engine.preview (what `fipswizard plan` prints)."""

from __future__ import annotations

import re
from collections import Counter

from textual.app import ComposeResult
from textual.containers import Horizontal, ScrollableContainer
from textual.content import Content
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from fipswizard.engine.plan import Plan, Unit
from fipswizard.engine.preview import plan_text
from fipswizard.engine.steps import HttpAction, Risk
from screens.base import WizardScreen
from screens.command_table import bindings_for
from screens.results import Nav

RISK_STYLE = {
    Risk.READ_ONLY: "$success",
    Risk.REVERSIBLE: "$primary",
    Risk.DISRUPTIVE: "$warning bold",
    Risk.IRREVERSIBLE: "$error bold",
}


def split_sections(text: str) -> tuple[str, list[str]]:
    """The preview's header and one section per plan unit (they start with "== ")."""
    parts = re.split(r"\n(?=== )", text.rstrip("\n"))
    return parts[0], parts[1:]


def highlight(text: str) -> Content:
    content = Content(text)
    for risk, style in RISK_STYLE.items():
        content = content.highlight_regex(re.escape(f"[{risk}]"), style=style)
    return content.highlight_regex(re.compile(r"^== .* ==$", re.M), style="bold $accent")


def plan_counts(plan: Plan) -> str:
    """One line: steps per risk, write requests and guest scripts (from Step.actions())."""
    steps = [s for u in plan.units for s in u.steps]
    risks = Counter(s.risk for s in steps)
    actions = [a for s in steps for a in s.actions()]
    writes = sum(isinstance(a, HttpAction) and a.is_write for a in actions)
    scripts = sum(not isinstance(a, HttpAction) for a in actions)
    fixes = sum(1 for u in plan.units if u.fixes)
    by_risk = ", ".join(f"{risks[r]} {r}" for r in Risk if risks[r])
    return (
        f"{len(steps)} steps ({by_risk}); {writes} write requests, {scripts} guest scripts; "
        f"{fixes} VM(s) with a conditional fix. ! = a step that asks first"
    )


def unit_label(unit: Unit) -> str:
    """Short: the VM name (or the subscription), marked when a step needs confirmation."""
    name = (
        unit.key.rsplit("/", 1)[-1]
        if unit.after is not None
        else f"subscription {unit.key.split(':', 1)[1][:8]}…"
    )
    risky = any(s.risk.needs_confirmation for s in unit.steps)
    return f"{name} !" if risky else name


class PlanScreen(WizardScreen[Nav]):
    COMMANDS_ID = "plan"
    BINDINGS = bindings_for("plan")

    def __init__(self, plan: Plan, states: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.plan = plan
        self.text = plan_text(plan, states)
        self.header, self.sections = split_sections(self.text)

    def compose_body(self) -> ComposeResult:
        yield Static(plan_counts(self.plan), id="plan-counts")
        with Horizontal(id="plan-panes"):
            options = [Option("Whole plan", id="all")]
            options += [
                Option(unit_label(u), id=f"unit-{n}") for n, u in enumerate(self.plan.units)
            ]
            units = OptionList(*options, id="plan-units")
            units.tooltip = "Pick a VM to see only its steps."
            yield units
            with ScrollableContainer(id="plan-scroll"):
                yield Static(highlight(self.text), id="plan-text")
        with Horizontal(classes="nav-buttons"):
            yield Button("Back", id="back")
            yield Button("Review and confirm", id="next", variant="primary")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        option_id = event.option.id or "all"
        if option_id == "all":
            text = self.text
        else:
            text = self.header + "\n" + self.sections[int(option_id.split("-")[1])]
        self.query_one("#plan-text", Static).update(highlight(text))
        self.query_one("#plan-scroll", ScrollableContainer).scroll_home(animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(Nav.NEXT if event.button.id == "next" else Nav.BACK)
