"""Phase 7: the outcome per VM; save the recipe, write the evidence bundle, roll back, start
again or quit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, DataTable, Static

from fipswizard.engine.report import Summary
from fipswizard.secrets import redact
from fipswizard.session import evidence_dir
from screens.base import WizardScreen, target_label
from screens.command_table import bindings_for
from screens.dialogs import PathDialog
from screens.evidence import EvidenceScreen
from screens.results import SaveRecipe, SummaryAction, SummaryResult

# Writes the run's evidence bundle into the folder it is given; returns the evidence document
# (the wizard binds `fipswizard.evidence.make.make_evidence` to the journal and options).
EvidenceMaker = Callable[[Path], Awaitable[dict[str, Any]]]


class SummaryScreen(WizardScreen[SummaryResult]):
    COMMANDS_ID = "summary"
    BINDINGS = bindings_for("summary")

    def __init__(
        self,
        summary: Summary,
        *,
        journal: Path,
        save_default: Path,
        expected: dict[str, str] | None = None,
        rollback: bool = False,
        note: str = "",
        evidence: EvidenceMaker | None = None,
        bundle: Path | None = None,
    ) -> None:
        super().__init__()
        self.summary, self.journal, self.save_default = summary, journal, save_default
        self.expected, self.is_rollback, self.note = expected, rollback, note
        self.ok_word = "rolled back" if rollback else "compliant"
        # The Evidence button is offered after an apply run (not a rollback) when the wizard
        # can make the bundle; `bundle` is where this run's bundle was already written.
        self.make_evidence = None if rollback else evidence
        self.bundle = bundle

    def compose_body(self) -> ComposeResult:
        vms = [t for t in self.summary.targets.values() if t.is_vm]
        good = sum(t.outcome is not None and t.outcome.value == "compliant" for t in vms)
        head = f"{good} of {len(vms)} VM(s) {self.ok_word}."
        yield Static(escape(head), id="summary-head")
        table: DataTable[object] = DataTable(id="summary-table", cursor_type="row")
        yield table
        with VerticalScroll(id="summary-notes"):
            yield Static(self._notes(), id="summary-text")
            if self.make_evidence is not None:
                yield Static(self._bundle_note(), id="summary-evidence")
        with Horizontal(classes="nav-buttons"):
            yield Button("Save recipe", id="save", disabled=self.is_rollback)
            if self.make_evidence is not None:
                yield Button("Evidence", id="evidence")
            yield Button("Roll back", id="rollback", disabled=self.is_rollback, variant="warning")
            yield Button("New run", id="new")
            yield Button("Quit", id="quit", variant="primary")

    def _notes(self) -> str:
        lines = []
        for t in self.summary.targets.values():
            if t.advice and (t.outcome is None or t.outcome.value != "compliant"):
                lines.append(f"[b]{escape(target_label(t.key))}[/b] what to do: {escape(t.advice)}")
        lines.append(f"Journal: {escape(str(self.journal))}")
        if self.note:
            lines.append(f"[$success]{escape(self.note)}[/]")
        return "\n".join(lines)

    def _bundle_note(self) -> str:
        if self.bundle is None:
            where = escape(str(evidence_dir(self.journal)))
            return f"Evidence: not written yet (Evidence writes it to {where}, read-only)."
        return f"[$success]Evidence bundle written to {escape(str(self.bundle))}[/]"

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Target", width=22)
        table.add_column("Outcome", width=20)
        if self.expected is not None:
            table.add_column("Expected (demo)", width=20)
        table.add_column("Changed", width=7)
        table.add_column("Detail", width=80)
        for t in self.summary.targets.values():
            outcome = str(t.outcome) if t.outcome is not None else "unfinished"
            ok = outcome == "compliant"
            row: list[object] = [
                target_label(t.key),
                self.themed(self.ok_word if ok else outcome, "success" if ok else "warning"),
                str(len(t.applied)),
                t.detail,
            ]
            if self.expected is not None:
                row.insert(2, self.expected.get(t.key, "-"))
            table.add_row(*row, key=t.key)
        self.query_one("#quit", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("save_recipe", "rollback"):
            return not self.is_rollback
        return True

    def action_save_recipe(self) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.dismiss(SaveRecipe(path))

        self.app.push_screen(
            PathDialog("Save the recipe as", str(self.save_default), "Save"), chosen
        )

    def action_rollback(self) -> None:
        self.dismiss(SummaryAction.ROLLBACK)

    def action_evidence(self) -> None:
        """Collect the evidence (read-only) in a worker, then show the Evidence view."""
        if self.make_evidence is None or self.query_one("#evidence", Button).disabled:
            return
        self.run_worker(self._write_evidence(self.make_evidence), group="evidence")

    async def _write_evidence(self, make: EvidenceMaker) -> None:
        out = evidence_dir(self.journal)
        button = self.query_one("#evidence", Button)
        status = self.query_one("#summary-evidence", Static)
        button.disabled = True
        status.update(f"Collecting evidence (read-only) into {escape(str(out))} ...")
        status.loading = True
        try:
            from fipswizard.files import ensure_private_dir

            ensure_private_dir(out)  # 0700, a symlink or a file in its place refused
            doc = await make(out)
        except Exception as err:  # shown where the operator looks; the run is unaffected
            status.update(f"[$error]Evidence not written: {escape(redact(str(err)))}[/]")
            return
        finally:
            status.loading = False
            button.disabled = False
        self.bundle = out
        status.update(self._bundle_note())
        await self.app.push_screen(EvidenceScreen(doc, out))

    def action_next(self) -> None:
        self.dismiss(SummaryAction.NEW)

    def action_quit(self) -> None:
        self.dismiss(SummaryAction.QUIT)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "save": self.action_save_recipe,
            "rollback": self.action_rollback,
            "evidence": self.action_evidence,
            "new": self.action_next,
            "quit": self.action_quit,
        }
        actions[event.button.id or "quit"]()
