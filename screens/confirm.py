"""Phase 4: the items the gate will ask, per VM, approved or not; then the go-ahead."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button, Checkbox, Static

from fipswizard.engine.approvals import plan_items
from fipswizard.engine.plan import Plan
from screens.approval_list import ApprovalList
from screens.base import WizardScreen
from screens.command_table import bindings_for
from screens.journal_done import JournalDone
from screens.results import Nav, RunChoice

ASK_EACH = "Ask again before each disruptive step: "


def confirm_markup(plan: Plan, done: JournalDone | None = None) -> str:
    items = plan_items(plan)
    writing = [(u.key, s.id) for u in plan.units for s in u.steps if s.risk.value != "read-only"]
    finished = sum(1 for key in writing if done is not None and key in done.steps)
    already = f", {finished} of them already done by the resumed run" if done is not None else ""
    lines = [
        f"The run changes {len(plan.vm_units)} VM(s) in {len(writing)} step(s){already}. "
        "Nothing is written before Run; each write is journalled, so the run can be resumed "
        "or rolled back, and steps already done are skipped.",
    ]
    if items:
        lines.append(
            "[b]Approve per VM[/b] what may stop or restart it: \\[x] approved, \\[ ] "
            'declined; Space toggles, a all, n none. "If needed" fixes run only when '
            "validation shows they are; a declined step stops that VM before it."
        )
    else:
        lines.append("Nothing in this plan is disruptive or irreversible.")
    return "\n".join(lines)


class ConfirmScreen(WizardScreen[RunChoice | Nav]):
    COMMANDS_ID = "confirm"
    BINDINGS = bindings_for("confirm")

    def __init__(self, plan: Plan, done: JournalDone | None = None) -> None:
        super().__init__()
        self.plan, self.done = plan, done
        self.items = plan_items(plan)

    def compose_body(self) -> ComposeResult:
        yield Static(confirm_markup(self.plan, self.done), id="confirm-text")
        yield ApprovalList(self.items, id="approvals")
        ask = Checkbox(ASK_EACH + "off", id="ask-each")
        ask.tooltip = "Off: the approvals above are the answers; nothing is asked mid-run."
        yield ask
        with Horizontal(classes="nav-buttons"):
            yield Button("Back", id="back")
            yield Button("Run", id="next", variant="warning")

    def on_mount(self) -> None:
        # Focus on the choices, not on Run: Enter must not start writes by accident.
        self.query_one(ApprovalList).focus()

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        # The state in words: readable without colour.
        event.checkbox.label = ASK_EACH + ("on" if event.value else "off")

    def action_next(self) -> None:
        approvals = self.query_one(ApprovalList)
        self.dismiss(
            RunChoice(
                ask_each=self.query_one("#ask-each", Checkbox).value,
                approved=frozenset(approvals.approved),
                known=frozenset(i.key for i in self.items),
            )
        )

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "next":
            self.action_next()
        else:
            self.dismiss(Nav.BACK)
