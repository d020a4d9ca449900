"""Phase 5: live progress per VM, waits with a progress bar, the log, and a safe cancel."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.markup import escape
from textual.widgets import Button, DataTable, Label, Log, ProgressBar, Static

from fipswizard.engine.events import StepStarted
from fipswizard.engine.report import progress_line
from fipswizard.secrets import redact
from screens.base import WizardScreen, target_label
from screens.command_table import bindings_for
from screens.dialogs import YesNoDialog
from screens.messages import EngineMsg, RunEnded
from screens.run_record import RunRecord, TargetLine

STATUS_VAR = {
    "applied": "success",
    "skipped": "text-muted",
    "failed": "error",
    "declined": "warning",
    "blocked": "warning",
    "running": "accent",
}
OUTCOME_VAR = {"compliant": "success"}


class RunScreen(WizardScreen[None]):
    """Shows one engine run (apply or rollback); the wizard posts the events to it."""

    COMMANDS_ID = "run"
    BINDINGS = bindings_for("run")

    def __init__(
        self,
        title: str,
        planned: list[tuple[str, str]],
        cancel_engine: Callable[[], object] | None = None,
    ) -> None:
        """`planned`: the (target, step id) pairs expected; fixes found later add to them."""
        super().__init__()
        self.title_text = title
        self.planned = set(planned)
        self.total = max(len(self.planned), 1)
        self.keys = list(dict.fromkeys(key for key, _ in planned))
        self.record = RunRecord()  # this screen's state, folded by its handlers
        self.ended = ""
        self._cancel = cancel_engine
        self._wait_owner = ""

    def compose_body(self) -> ComposeResult:
        yield Static(escape(self.title_text), id="run-status")
        yield ProgressBar(total=self.total, show_eta=False, id="run-progress")
        with Horizontal(id="wait-row"):
            yield Label("", id="wait-label")
            yield ProgressBar(total=1.0, show_eta=False, id="wait-progress")
        table: DataTable[object] = DataTable(id="run-table", cursor_type="row")
        table.display = len(self.keys) > 1
        yield table
        log = Log(id="run-log", highlight=False)
        log.tooltip = "Every event of the run, as `fipswizard apply` prints it."
        yield log
        with Horizontal(classes="nav-buttons"):
            yield Button("Cancel run", id="cancel", variant="error")
            yield Button("Continue", id="next", variant="primary", disabled=True)

    def on_mount(self) -> None:
        self.query_one("#wait-row").display = False
        table = self.query_one(DataTable)
        table.add_column("VM", key="vm", width=22)
        table.add_column("Step", key="step", width=34)
        table.add_column("Status", key="status", width=20)
        table.add_column("Latest", key="latest", width=60)
        for key in self.keys:
            table.add_row(target_label(key), "waiting", "", "", key=key)

    @on(EngineMsg)
    def on_engine(self, message: EngineMsg) -> None:
        event = message.event
        if isinstance(event, StepStarted) and (event.target, event.step_id) not in self.planned:
            self.planned.add((event.target, event.step_id))
            self.total += 1  # a fix the validation asked for
            self.query_one("#run-progress", ProgressBar).update(total=self.total)
        line = self.record.add(event)
        text = progress_line(event)
        if text:
            self.query_one(Log).write_line(redact(text))
        self.query_one("#run-progress", ProgressBar).update(progress=self.record.steps_done)
        if line is not None:
            self._show_target(line)

    def _show_target(self, line: TargetLine) -> None:
        step = line.steps.get(line.current) if line.current else None
        if line.outcome:
            step_text, status = (
                "done",
                self.themed(line.outcome, OUTCOME_VAR.get(line.outcome, "warning")),
            )
        elif step is not None:
            step_text, status = (
                step.title,
                self.themed(step.status, STATUS_VAR.get(step.status, "accent")),
            )
        else:
            step_text, status = "", self.themed("", "accent")
        latest = (line.detail if line.outcome else line.last_output)[:80]
        table = self.query_one(DataTable)
        if line.key not in table.rows:
            table.add_row(target_label(line.key), "", "", "", key=line.key)
            table.display = len(table.rows) > 1
        table.update_cell(line.key, "step", step_text)
        table.update_cell(line.key, "status", status)
        table.update_cell(line.key, "latest", latest)
        self._show_wait(line)

    def _show_wait(self, line: TargetLine) -> None:
        row = self.query_one("#wait-row")
        if line.wait_fraction is None:
            if self._wait_owner == line.key:
                row.display, self._wait_owner = False, ""
            return
        row.display, self._wait_owner = True, line.key
        self.query_one("#wait-label", Label).update(escape(f"{line.name}: {line.last_output}")[:60])
        self.query_one("#wait-progress", ProgressBar).update(progress=line.wait_fraction)

    def on_run_ended(self, message: RunEnded) -> None:
        self.ended = message.how
        self.query_one("#run-status", Static).update(escape(message.text))
        self.query_one("#wait-row").display = False
        self.query_one("#cancel", Button).disabled = True
        self.query_one("#next", Button).disabled = False
        self.query_one("#next", Button).focus()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_run":
            return not self.ended
        if action == "next":
            return bool(self.ended)
        return True

    def action_cancel_run(self) -> None:
        def answered(yes: bool | None) -> None:
            if yes and not self.ended and self._cancel is not None:
                self._cancel()

        self.app.push_screen(
            YesNoDialog(
                "Cancel the run?",
                "Steps in progress stop now. The journal keeps what was done, "
                "so the run can be resumed or rolled back later.",
                "Cancel the run",
                "Keep running",
            ),
            answered,
        )

    def action_next(self) -> None:
        if self.ended:
            self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.action_cancel_run()
        else:
            self.action_next()
