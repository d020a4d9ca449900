"""The Textual app: one factory (`create_app`) used by `run_app` (the CLI) and the tests.

The app only wires things: the home screen, global commands, theme, help and the one
wizard worker. The phases live in their own screens; the walk lives in wizard.py.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import App, SystemCommand
from textual.screen import Screen

from fipswizard.errors import ExitCode, FipsWizardError
from screens.command_table import (
    FOLDED_SYSTEM_COMMANDS,
    SCREENS,
    WizardCommands,
    app_bindings,
    help_markup,
)
from screens.dialogs import ErrorDialog, HelpScreen
from screens.error_info import describe_error, log
from screens.home import HomeScreen
from screens.messages import Notice, PhaseEntered

if TYPE_CHECKING:
    from fipswizard.session import Options
    from screens.wizard import Wizard

# "1": exit once the first screen is painted; a file path: also write the time there.
EXIT_AFTER_FIRST_PAINT = "FIPSWIZARD_EXIT_AFTER_FIRST_PAINT"
THEMES = ("textual-dark", "textual-light")


class FipsWizardApp(App[None]):
    TITLE = "fipswizard"
    SUB_TITLE = "FIPS 140-3 on Azure Linux VMs"
    CSS_PATH = "app.tcss"
    BINDINGS = app_bindings()
    COMMANDS = App.COMMANDS | {WizardCommands}

    def __init__(
        self,
        *,
        demo: bool,
        opts: Options | None,
        workdir: Path | None = None,
        log_path: str = "",
        autostart: bool = True,
        exit_after_first_paint: str = "",
    ) -> None:
        super().__init__()
        self.demo, self.opts, self.workdir, self.log_path = demo, opts, workdir, log_path
        self.autostart, self.exit_after_first_paint = autostart, exit_after_first_paint
        self.theme = THEMES[0]
        self.wizard: Wizard | None = None
        self.quit_code = 0  # what ^Q exits with: 3 once an authentication error was shown
        self.clock: Callable[[], float] = (
            time.monotonic
        )  # run screens' elapsed times (tests fix it)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        """Textual's palette commands, less those the project's command table already has."""
        for command in super().get_system_commands(screen):
            if command.title not in FOLDED_SYSTEM_COMMANDS:
                yield command

    def error_shown(self, err: BaseException) -> None:
        """Remember an authentication error: quitting after it exits 3, as `apply` does."""
        if isinstance(err, FipsWizardError) and err.exit_code == ExitCode.AUTH:
            self.quit_code = int(ExitCode.AUTH)

    async def action_quit(self) -> None:
        self.exit(return_code=self.quit_code)

    def get_default_screen(self) -> Screen[None]:
        return HomeScreen()

    def on_mount(self) -> None:
        if self.exit_after_first_paint:
            self.call_after_refresh(self._first_paint_done)
        elif self.autostart:
            self.start_wizard()

    def _first_paint_done(self) -> None:
        """For benchmarks/tui_first_paint.py: record when the first screen was painted, exit."""
        if self.exit_after_first_paint != "1":
            Path(self.exit_after_first_paint).write_text(f"{time.time():.6f}\n", encoding="utf-8")
        self.exit()

    def start_wizard(self) -> None:
        from screens.wizard import Wizard

        self.wizard = Wizard(self)
        self.run_worker(
            self.wizard.walk(), group="wizard", exclusive=True, exit_on_error=False, name="wizard"
        )

    def cancel_engine(self) -> None:
        """Cancel the engine worker: the journal keeps the state (resume or roll back later)."""
        from screens.runner import ENGINE_GROUP

        self.workers.cancel_group(self, ENGINE_GROUP)

    def on_phase_entered(self, message: PhaseEntered) -> None:
        home = self.screen_stack[0]
        if isinstance(home, HomeScreen):
            home.show_phase(message)

    def show_error(self, err: BaseException) -> None:
        """From a handler: the error dialog (workers use Wizard.error, which awaits it)."""
        self.error_shown(err)
        self.push_screen(ErrorDialog(describe_error(err, self.log_path)))

    def on_notice(self, message: Notice) -> None:
        self.notify(message.text)

    # Textual has no public hook for an unhandled exception in a handler: these two private
    # methods are overridden so its details go to the log file, never a traceback on screen.
    def _handle_exception(self, error: Exception) -> None:
        log.error("unhandled error in the TUI", exc_info=error)
        super()._handle_exception(error)

    def _print_error_renderables(self) -> None:
        if self._exit_renderables:
            self._exit_renderables.clear()
            where = self.log_path or "the log file"
            self.error_console.print(
                f"fipswizard: internal error in the TUI; details in {where}",
                markup=False,
                highlight=False,
            )
        super()._print_error_renderables()

    def action_help(self) -> None:
        screen = self.screen
        screen_id = getattr(screen, "COMMANDS_ID", "home")
        if screen_id == "help":
            return
        focused = getattr(screen, "focused_help", lambda: "")()
        self.push_screen(
            HelpScreen(help_markup(screen_id if screen_id in SCREENS else "home", focused))
        )

    def action_toggle_theme(self) -> None:
        self.theme = THEMES[1] if self.theme == THEMES[0] else THEMES[0]


def create_app(
    *,
    demo: bool,
    opts: Options | None = None,
    workdir: Path | None = None,
    log_path: str = "",
    autostart: bool = True,
) -> FipsWizardApp:
    """The app as the CLI runs it; tests pass `opts` (sandbox endpoint) or `autostart=False`."""
    return FipsWizardApp(
        demo=demo,
        opts=opts,
        workdir=workdir,
        log_path=log_path,
        autostart=autostart,
        exit_after_first_paint=os.environ.get(EXIT_AFTER_FIRST_PAINT, ""),
    )


def run_app(
    *,
    demo: bool,
    arm_endpoint: str | None = None,
    workdir: str | None = None,
    ca_bundle: str | None = None,
) -> int:
    """Entry point for `fipswizard` (no arguments) and `fipswizard demo`; returns the exit code."""
    import sys

    from fipswizard.errors import FipsWizardError
    from fipswizard.logs import setup_logging
    from fipswizard.session import Options, settings_from_env

    log_path = setup_logging(False)
    try:
        settings = settings_from_env()
    except FipsWizardError as err:  # e.g. a malformed FIPSWIZARD_POLL_INTERVAL
        print(f"fipswizard: {err}", file=sys.stderr)
        return int(err.exit_code)
    opts = (
        None if demo else Options(arm_endpoint=arm_endpoint, ca_bundle=ca_bundle, settings=settings)
    )
    app = create_app(
        demo=demo, opts=opts, workdir=Path(workdir) if workdir else None, log_path=str(log_path)
    )
    app.run()
    return int(app.return_code or 0)
