"""Modal dialogs: errors, a file path, the engine's questions, cancel confirmation, help."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.markup import escape
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, SelectionList, Static
from textual.widgets.selection_list import Selection

from screens.base import target_label
from screens.command_table import bindings_for
from screens.error_info import ErrorInfo
from screens.run_record import Diagnosis


class ErrorDialog(ModalScreen[None]):
    """The ARM code and message and the suggested action (details are in the log file)."""

    COMMANDS_ID: ClassVar[str] = "dialog"
    BINDINGS = bindings_for("dialog")

    def __init__(self, info: ErrorInfo) -> None:
        super().__init__(classes="dialog error-dialog")
        self.info = info

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(escape(self.info.title), classes="dialog-title")
            yield Static(f"[b]Code:[/b] {escape(self.info.code)}", id="error-code")
            yield Static(escape(self.info.message), id="error-message")
            if self.info.advice:
                yield Static(f"[b]What to do:[/b] {escape(self.info.advice)}", id="error-advice")
            yield Button("Close", id="close", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#close", Button).focus()

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class PathDialog(ModalScreen[Path | None]):
    """Ask for a file path (open a recipe or journal, save a recipe)."""

    COMMANDS_ID: ClassVar[str] = "dialog"
    BINDINGS = [Binding("escape", "close", "Cancel")]

    def __init__(self, title: str, default: str = "", action: str = "Open") -> None:
        super().__init__(classes="dialog")
        self.title_text, self.default, self.action_label = title, default, action

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(escape(self.title_text), classes="dialog-title")
            yield Input(self.default, placeholder="path to the file", id="path")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.action_label, id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#path", Input).focus()

    def _submit(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        self.dismiss(Path(text).expanduser() if text else None)

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class Reply(StrEnum):
    YES = "yes"
    ALL = "all"  # yes, and yes to the same step on the other VMs of this run
    NO = "no"


class QuestionScreen(ModalScreen[Reply]):
    """The engine asks (through TuiPrompter) before a disruptive step: diagnosis, cost, answer.

    The same step asked on several VMs is one question with a per-VM list (`add_target`, also
    while the dialog is open): Reply.YES applies it to the ticked VMs (`chosen`), Reply.ALL to
    every VM, Reply.NO to none."""

    COMMANDS_ID: ClassVar[str] = "question"
    BINDINGS = bindings_for("question")

    def __init__(self, target: str, question: str, diagnosis: Diagnosis | None = None) -> None:
        super().__init__(classes="dialog question")
        self.target, self.question, self.diagnosis = target, question, diagnosis
        self.targets = [target]

    def add_target(self, target: str) -> None:
        """Another VM asks the same step: it joins the list, ticked."""
        self.targets.append(target)
        if self.is_mounted:
            self._show_targets()

    @property
    def chosen(self) -> set[str]:
        """The VMs a YES applies to: the ticked ones, or the one VM asked about."""
        if len(self.targets) == 1 or not self.is_mounted:
            return set(self.targets)
        return set(self.query_one("#question-vms", SelectionList).selected)

    def _vm_line(self) -> str:
        if len(self.targets) == 1:
            return (
                f"[b]VM:[/b] {escape(target_label(self.target))} "
                f"[$text-muted]({escape(self.target)})[/]"
            )
        return f"[b]VMs:[/b] {len(self.targets)} ask the same; untick those to leave out"

    def _show_targets(self) -> None:
        self.query_one("#question-vm", Static).update(self._vm_line())
        vms: SelectionList[str] = self.query_one("#question-vms", SelectionList)
        have = {vms.get_option_at_index(n).value for n in range(vms.option_count)}
        vms.add_options(
            [Selection(target_label(t), t, True) for t in self.targets if t not in have]
        )
        vms.display = len(self.targets) > 1
        self.query_one("#yes", Button).label = (
            "Accept (y)" if len(self.targets) == 1 else "Accept ticked VMs (y)"
        )

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label("The run needs your answer", classes="dialog-title")
            yield Static(self._vm_line(), id="question-vm")
            yield SelectionList[str](id="question-vms")
            with VerticalScroll(id="question-text"):
                if self.diagnosis is not None:
                    why = escape(self.diagnosis.explanation)
                    yield Static(f"[b]Diagnosis:[/b] {why}", id="diagnosis")
                    if self.diagnosis.cost:
                        yield Static(f"[b]Cost:[/b] {escape(self.diagnosis.cost)}", id="cost")
                yield Static(f"[b]Proposed:[/b] {escape(self.question)}", id="proposal")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Accept (y)", id="yes", variant="warning")
                yield Button("Accept for all VMs (a)", id="all", variant="warning")
                yield Button("Decline (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        self._show_targets()
        self.query_one("#no", Button).focus()  # the safe answer has the focus

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(Reply(event.button.id or "no"))

    def action_answer(self, reply: str) -> None:
        self.dismiss(Reply(reply))

    def action_cancel_run(self) -> None:
        """Ctrl+X while the run waits for this answer: confirm, then cancel the engine worker.

        The question stays open until the worker is cancelled; the runner then closes it. The
        step asked about was never begun, so the journal has nothing half-done to undo."""

        def answered(yes: bool | None) -> None:
            cancel = getattr(self.app, "cancel_engine", None)
            if yes and cancel is not None:
                cancel()

        self.app.push_screen(
            YesNoDialog(
                "Cancel the run?",
                "The step asked about is not started. The journal keeps what was done, "
                "so the run can be resumed or rolled back later.",
                "Cancel the run",
                "Keep running",
            ),
            answered,
        )


class YesNoDialog(ModalScreen[bool]):
    """A plain yes/no question (e.g. cancel the run?)."""

    COMMANDS_ID: ClassVar[str] = "dialog"
    BINDINGS = [Binding("escape", "answer(False)", "No")]

    def __init__(self, title: str, text: str, yes: str = "Yes", no: str = "No") -> None:
        super().__init__(classes="dialog")
        self.title_text, self.text, self.yes, self.no = title, text, yes, no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog-box"):
            yield Label(escape(self.title_text), classes="dialog-title")
            yield Static(escape(self.text))
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, id="yes", variant="warning")
                yield Button(self.no, id="no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class HelpScreen(ModalScreen[None]):
    """F1: the current screen's purpose and keys (from commands.py) and the focused field."""

    COMMANDS_ID: ClassVar[str] = "help"
    BINDINGS = [*bindings_for("help"), Binding("f1", "close", show=False)]

    def __init__(self, markup: str) -> None:
        super().__init__(classes="dialog help")
        self.markup = markup

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog-box"):
            yield Static(self.markup, id="help-text")
            yield Button("Close", id="close", variant="primary")

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
