"""Phase 6: validation results per VM, the diagnosis, and the fix proposed (and the answer)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, Static

from screens.base import WizardScreen
from screens.command_table import bindings_for
from screens.results import Nav
from screens.run_record import RunRecord, TargetLine

STATUS_MARKUP = {
    "applied": "[$success]passed[/]",
    "skipped": "[$success]already passed[/]",
    "failed": "[$error]failed[/]",
    "declined": "[$warning]declined[/]",
    "blocked": "[$warning]blocked[/]",
    "running": "[$warning]interrupted[/]",
}


def target_markup(line: TargetLine, record: RunRecord) -> str:
    outcome = line.outcome or "unfinished"
    style = "$success" if outcome == "compliant" else "$warning"
    lines = [
        f"[b]{escape(line.name)}[/b]  [{style}]{escape(outcome)}[/]"
        f"  [$text-muted]{escape(line.key)}[/]"
    ]
    steps = line.validation()
    if not steps:
        lines.append(f"  validation not reached: {escape(line.detail or 'the run stopped')}")
    for step in steps:
        status = STATUS_MARKUP.get(step.status, escape(step.status))
        if step.is_fix:
            status = status.replace("passed", "applied")
        lines.append(f"  {escape(step.title)}: {status}  {escape(step.detail)}")
        if step.advice and step.status not in ("applied", "skipped"):
            lines.append(f"    [b]what to do:[/b] {escape(step.advice)}")
    for found in line.diagnoses:
        lines.append(f"  [b]Diagnosis:[/b] {escape(found.explanation)}")
        if found.cost:
            lines.append(f"  [b]Cost of the fix:[/b] {escape(found.cost)}")
    for answer in (a for a in record.asked() if a.target == line.key):
        verdict = "[$warning]accepted[/]" if answer.accepted else "[$primary]declined[/]"
        if answer.how == "all":
            verdict += " (accepted for all VMs)"
        lines.append(f"  [b]Proposed:[/b] {escape(answer.question)} -> {verdict}")
    for text in line.warnings:
        lines.append(f"  [$warning]guest:[/] {escape(text)}")
    return "\n".join(lines)


def validation_markup(record: RunRecord) -> str:
    vms = [t for t in record.targets.values() if t.is_vm]
    if not vms:
        return "No VM reached validation."
    return "\n\n".join(target_markup(t, record) for t in vms)


class ValidationScreen(WizardScreen[Nav]):
    COMMANDS_ID = "validation"
    BINDINGS = bindings_for("validation")

    def __init__(self, record: RunRecord) -> None:
        super().__init__()
        self.record = record

    def compose_body(self) -> ComposeResult:
        # Fixes were approved (or declined) before the run, as "if needed"; count those needed.
        fixes = [s for t in self.record.targets.values() for s in t.steps.values() if s.is_fix]
        applied = sum(s.status == "applied" for s in fixes)
        declined = sum(s.status == "declined" for s in fixes)
        yield Static(
            "Extensions with protected settings prove the certificate package works. "
            f"{len(fixes)} fix(es) needed: {applied} applied, {declined} declined "
            "(as approved before the run).",
            id="validation-summary",
        )
        with VerticalScroll(id="validation-scroll"):
            yield Static(validation_markup(self.record), id="validation-text")
        with Horizontal(classes="nav-buttons"):
            yield Button("Summary", id="next", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#next", Button).focus()

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(Nav.NEXT)
