"""Phase 3: the dry run, rendered by fipswizard.engine.preview (what `fipswizard plan` prints)."""

from __future__ import annotations

from collections import Counter

from textual.app import ComposeResult
from textual.containers import Horizontal, ScrollableContainer
from textual.content import Content
from textual.widgets import Button, OptionList, Static
from textual.widgets.option_list import Option

from fipswizard.engine.findings import vm_rows
from fipswizard.engine.plan import Plan, Unit, subscription_key
from fipswizard.engine.preview import plan_sections
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


def highlight(text: str) -> Content:
    """Style the risk labels and headings the preview prints; the text itself is not read."""
    content = Content(text)
    for risk, style in RISK_STYLE.items():
        content = content.highlight_regex(_literal(f"[{risk}]"), style=style)
    return content.highlight_regex(HEADING, style="bold $accent")


HEADING = r"(?m)^== .* ==$"  # the preview's section headings (engine/preview.py)


def _literal(text: str) -> str:
    """`text` as a pattern matching itself (the labels hold only "[", "]", "-" and letters)."""
    return "".join(f"\\{c}" if c in "[]-" else c for c in text)


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


def unit_label(plan: Plan, unit: Unit) -> str:
    """Short: the VM name (or the subscription), marked when a step needs confirmation.

    Names come from the recipe's typed targets, never from splitting the unit's key."""
    name = f"{unit.key}"
    for rt in plan.recipe.targets:
        if rt.target.key == unit.key:
            name = rt.target.vm
            break
        if subscription_key(rt.target.subscription) == unit.key:
            name = f"subscription {rt.target.subscription[:8]}…"
            break
    risky = any(s.risk.needs_confirmation for s in unit.steps)
    return f"{name} !" if risky else name


class PlanScreen(WizardScreen[Nav]):
    COMMANDS_ID = "plan"
    BINDINGS = bindings_for("plan")

    def __init__(self, plan: Plan, states: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.plan = plan
        # The text `fipswizard plan` prints, preflight verdicts included (one preview).
        self.parts = plan_sections(plan, states, vm_rows(plan, states))
        self.unit_ids = [f"unit-{n}" for n in range(len(plan.units))]
        self.text = str(self.parts)

    def compose_body(self) -> ComposeResult:
        yield Static(plan_counts(self.plan), id="plan-counts")
        with Horizontal(id="plan-panes"):
            options = [Option("Whole plan", id="all")]
            options += [
                Option(unit_label(self.plan, u), id=uid)
                for uid, u in zip(self.unit_ids, self.plan.units, strict=True)
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
            text = self.parts.unit(self.unit_ids.index(option_id))
        self.query_one("#plan-text", Static).update(highlight(text))
        self.query_one("#plan-scroll", ScrollableContainer).scroll_home(animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(Nav.NEXT if event.button.id == "next" else Nav.BACK)
