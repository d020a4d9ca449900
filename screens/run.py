"""Phase 5: live progress per VM, waits with a progress bar, the log, and a safe cancel."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.markup import escape
from textual.widgets import Button, DataTable, Label, Log, ProgressBar, Static

from fipswizard.engine.events import StepFinished, StepStarted
from fipswizard.engine.report import RunReport, progress_line
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
Clock = Callable[[], float]
FIXED_WIDTHS = (20, 28, 14, 11)  # the VM, Step, Status and Time columns


def elapsed(seconds: float) -> str:
    """ "m:ss" (or "h:mm:ss"): short enough for a table cell at 80 columns."""
    whole = max(int(seconds), 0)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Timing:
    """Elapsed time per VM, per step ("phase" of a VM's run) and for the run, read from the run
    model (`RunReport` folds the events' own timestamps once); `clock` moves the times of what
    still runs (time.monotonic, the engine's base, by default; tests pass a fixed one)."""

    def __init__(self, report: RunReport, clock: Clock) -> None:
        self.report, self.clock = report, clock
        self.run_end: float | None = None  # the run is over, with or without RunFinished

    def _span(self, start: float | None, end: float | None) -> str:
        if start is None:
            return ""
        return elapsed((end if end is not None else self.clock()) - start)

    def vm(self, key: str) -> str:
        t = self.report.targets.get(key)
        return self._span(t.started_at, t.finished_at) if t else ""

    def step(self, key: str, step_id: str) -> str:
        t = self.report.targets.get(key)
        s = t.steps.get(step_id) if t else None
        return self._span(s.started_at, s.finished_at) if s else ""

    @property
    def run_start(self) -> float | None:
        if self.report.started_at is not None:
            return self.report.started_at
        starts = [t.started_at for t in self.report.targets.values() if t.started_at is not None]
        return min(starts, default=None)  # a rollback sends no RunStarted

    def run(self) -> str:
        end = self.report.ended_at if self.report.finished else self.run_end
        return self._span(self.run_start, end)


class RunScreen(WizardScreen[None]):
    """Shows one engine run (apply or rollback); the wizard posts the events to it."""

    COMMANDS_ID = "run"
    BINDINGS = bindings_for("run")

    def __init__(
        self,
        title: str,
        planned: list[tuple[str, str]],
        cancel_engine: Callable[[], object] | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        """`planned`: the (target, step id) pairs expected; fixes found later add to them."""
        super().__init__()
        self.title_text = title
        self.planned = set(planned)
        self.finished: set[tuple[str, str]] = set()  # steps that ended (any status)
        self.total = max(len(self.planned), 1)
        self.keys = list(dict.fromkeys(key for key, _ in planned))
        self.record = RunRecord()  # this screen's state, folded by its handlers
        self.timing = Timing(self.record.report, clock)
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
        # Hidden, not removed: its line stays, so the log below keeps its height (and keeps
        # following the output) when a wait's progress comes and goes.
        self.query_one("#wait-row").visible = False
        table = self.query_one(DataTable)
        table.add_column("VM", key="vm", width=FIXED_WIDTHS[0])
        table.add_column("Step", key="step", width=FIXED_WIDTHS[1])
        table.add_column("Status", key="status", width=FIXED_WIDTHS[2])
        table.add_column("Time", key="time", width=FIXED_WIDTHS[3])
        # The last column takes what the others leave: wide terminals show more of each line.
        latest = max(30, self.app.size.width - sum(FIXED_WIDTHS) - 2 * (len(FIXED_WIDTHS) + 1) - 4)
        table.add_column("Latest", key="latest", width=latest)
        for key in self.keys:
            table.add_row(target_label(key), "waiting", "", "", "", key=key)
        self.set_interval(1.0, self._tick)

    def _tick(self) -> None:
        """Keep the running VMs' elapsed times moving between events."""
        if self.ended:
            return
        for line in self.record.targets.values():
            if not line.outcome:
                self._show_time(line)

    def progress(self) -> float:
        """The bar's value: steps that ended over steps known; 100 % once the run finished."""
        if self.record.finished or self.timing.run_end is not None:
            return float(self.total)
        return float(min(len(self.finished), self.total))

    @on(EngineMsg)
    def on_engine(self, message: EngineMsg) -> None:
        event = message.event
        if not event.at:  # stamped on arrival when the sender did not
            event = replace(event, at=self.timing.clock())
        if isinstance(event, StepStarted) and (event.target, event.step_id) not in self.planned:
            self.planned.add((event.target, event.step_id))
            self.total += 1  # a fix the validation asked for
            self.query_one("#run-progress", ProgressBar).update(total=self.total)
        if isinstance(event, StepFinished):
            self.finished.add((event.target, event.step_id))
        line = self.record.add(event)
        text = progress_line(event)
        if text:
            self.query_one(Log).write_line(redact(text))
        self.query_one("#run-progress", ProgressBar).update(progress=self.progress())
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
            table.add_row(target_label(line.key), "", "", "", "", key=line.key)
            table.display = len(table.rows) > 1
        table.update_cell(line.key, "step", step_text)
        table.update_cell(line.key, "status", status)
        table.update_cell(line.key, "latest", latest)
        self._show_time(line)
        self._show_wait(line)

    def _show_time(self, line: TargetLine) -> None:
        """The VM's elapsed time; while a step runs, that step's too (VM total / step)."""
        text = self.timing.vm(line.key)
        if line.current and not line.outcome:
            text = f"{text}/{self.timing.step(line.key, line.current)}"
        table = self.query_one(DataTable)
        if line.key in table.rows:
            table.update_cell(line.key, "time", text)

    def _show_wait(self, line: TargetLine) -> None:
        row = self.query_one("#wait-row")
        if line.wait_fraction is None:
            if self._wait_owner == line.key:
                row.visible, self._wait_owner = False, ""
            return
        row.visible, self._wait_owner = True, line.key
        self.query_one("#wait-label", Label).update(escape(f"{line.name}: {line.last_output}")[:60])
        self.query_one("#wait-progress", ProgressBar).update(progress=line.wait_fraction)

    def on_run_ended(self, message: RunEnded) -> None:
        self.ended = message.how
        if message.how == "finished" and self.timing.run_end is None:
            self.timing.run_end = self.timing.clock()
        took = f" Run time {self.timing.run()}." if self.timing.run_start is not None else ""
        self.query_one("#run-status", Static).update(escape(f"{message.text}{took} Continue: ^N"))
        self.query_one("#run-progress", ProgressBar).update(progress=self.progress())
        for line in self.record.targets.values():
            self._show_time(line)
        self.query_one("#wait-row").visible = False
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
