"""Phase 2: what was read for each VM and what it means (nothing has been changed yet)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.markup import escape
from textual.widgets import Button, DataTable, Static

from fipswizard.engine.findings import VmRow, finding_line, vm_rows
from fipswizard.engine.plan import Plan
from screens.base import WizardScreen
from screens.command_table import bindings_for
from screens.results import Nav

LEVEL_VAR = {"ok": "$success", "info": "$primary", "warning": "$warning", "refusal": "$error"}
VERDICT_VAR = {"ready": "success", "warnings": "warning", "refused": "error"}


def row_details(row: VmRow) -> str:
    lines = [f"[b]{escape(row.key)}[/b]", ""]
    # The same line `fipswizard plan` prints (finding_line), coloured by level.
    lines += [f"[{LEVEL_VAR[f.level]}]{escape(finding_line(f))}[/]" for f in row.findings]
    if row.checks:
        lines += ["", "[b]Read now (GETs only):[/b]"] + [f"  {escape(c)}" for c in row.checks]
    return "\n".join(lines)


class PreflightScreen(WizardScreen[Nav]):
    COMMANDS_ID = "preflight"
    BINDINGS = bindings_for("preflight")

    def __init__(self, plan: Plan, states: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.rows = vm_rows(plan, states)

    def compose_body(self) -> ComposeResult:
        refused = sum(r.verdict == "refused" for r in self.rows)
        warned = sum(r.verdict == "warnings" for r in self.rows)
        yield Static(
            f"{len(self.rows)} VM(s) read: {refused} refused, {warned} with warnings. "
            + (
                "These reads changed nothing; the earlier run's changes are listed above."
                if self.resume_note  # set by the wizard when resuming a journal
                else "Nothing has been changed."
            ),
            id="preflight-summary",
        )
        table: DataTable[str] = DataTable(
            id="preflight-table", cursor_type="row", zebra_stripes=True
        )
        table.tooltip = "One row per VM; the pane below explains the highlighted one."
        yield table
        with VerticalScroll(id="preflight-details"):
            yield Static(id="details")
        with Horizontal(classes="nav-buttons"):
            yield Button("Back", id="back")
            yield Button("Show the plan", id="next", variant="primary")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("VM", "Verdict", "Region", "Flag", "Agent", "Feature", "OS / image")
        for row in self.rows:
            table.add_row(
                row.vm,
                self.themed(row.verdict, VERDICT_VAR[row.verdict]),
                row.region,
                row.flag,
                row.agent,
                row.feature,
                row.image,
                key=row.key,
            )
        table.focus()
        if self.rows:
            self._show(self.rows[0])

    def _show(self, row: VmRow) -> None:
        self.query_one("#details", Static).update(row_details(row))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = event.row_key.value
        row = next((r for r in self.rows if r.key == key), None)
        if row is not None:
            self._show(row)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(Nav.NEXT if event.button.id == "next" else Nav.BACK)
