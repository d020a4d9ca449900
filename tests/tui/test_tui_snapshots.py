"""SVG snapshots of the key screens at a fixed size, against the in-process sandbox.

Deterministic: the sandbox answers through an httpx transport at the fixed public ARM URL
(no port), nothing on these screens shows a time or a random id, and no run happens.
Update after an intended change: pytest tests/tui --snapshot-update
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.pilot import Pilot
from tui_helpers import wait_screen

import screens.app
from fipswizard.session import Options
from screens.app import FipsWizardApp, create_app
from screens.confirm import ConfirmScreen
from screens.dialogs import HelpScreen
from screens.plan_preview import PlanScreen
from screens.preflight import PreflightScreen
from screens.run import RunScreen
from screens.summary import SummaryScreen
from screens.target import TargetScreen

SIZE = (100, 32)
# The sizes an operator's terminal may have: the smallest usable one and a wide one.
SMALL, WIDE = (80, 24), (200, 50)


@pytest.fixture
def sandbox_app(tmp_path: Path, sandbox_opts: Options) -> FipsWizardApp:
    return create_app(demo=False, opts=sandbox_opts, workdir=tmp_path)


async def to_target(pilot: Pilot[Any]) -> None:
    await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)


async def to_preflight(pilot: Pilot[Any]) -> None:
    await to_target(pilot)
    await pilot.press("ctrl+a", "ctrl+n")
    await wait_screen(pilot, PreflightScreen)


async def to_plan(pilot: Pilot[Any]) -> None:
    await to_preflight(pilot)
    await pilot.press("ctrl+n")
    await wait_screen(pilot, PlanScreen)
    await pilot.press("down", "down", "down")  # the first VM's section


async def to_confirm(pilot: Pilot[Any]) -> None:
    await to_plan(pilot)
    await pilot.press("ctrl+n")
    await wait_screen(pilot, ConfirmScreen)


async def to_help(pilot: Pilot[Any]) -> None:
    await to_target(pilot)
    await pilot.press("f1")
    await wait_screen(pilot, HelpScreen)


def test_target_screen(snap_compare: Any, sandbox_app: FipsWizardApp) -> None:
    assert snap_compare(sandbox_app, terminal_size=SIZE, run_before=to_target)


def test_preflight_screen(snap_compare: Any, sandbox_app: FipsWizardApp) -> None:
    assert snap_compare(sandbox_app, terminal_size=SIZE, run_before=to_preflight)


def test_plan_screen(snap_compare: Any, sandbox_app: FipsWizardApp) -> None:
    assert snap_compare(sandbox_app, terminal_size=SIZE, run_before=to_plan)


def test_confirm_screen(snap_compare: Any, sandbox_app: FipsWizardApp) -> None:
    assert snap_compare(sandbox_app, terminal_size=SIZE, run_before=to_confirm)


def test_help_screen_light_theme(snap_compare: Any, sandbox_app: FipsWizardApp) -> None:
    async def light_help(pilot: Pilot[Any]) -> None:
        await to_help(pilot)
        await pilot.press("ctrl+t")
        await pilot.pause()

    assert snap_compare(sandbox_app, terminal_size=SIZE, run_before=light_help)


@pytest.mark.parametrize("size", [SMALL, WIDE], ids=["80x24", "200x50"])
def test_preflight_screen_at(snap_compare: Any, sandbox_app: FipsWizardApp, size: Any) -> None:
    assert snap_compare(sandbox_app, terminal_size=size, run_before=to_preflight)


@pytest.mark.parametrize("size", [SMALL, WIDE], ids=["80x24", "200x50"])
def test_confirm_screen_at(snap_compare: Any, sandbox_app: FipsWizardApp, size: Any) -> None:
    assert snap_compare(sandbox_app, terminal_size=size, run_before=to_confirm)


# The run and summary screens from a fixed stream of engine events (what a run of the demo's
# ubuntu2204-web and rhel96-notready emits, shortened) with a fixed clock: a real run would
# put random run ids and times on screen, and would take a minute.
SUB = "subscription:11111111-2222-3333-4444-555555555555"
WEB = "11111111-2222-3333-4444-555555555555/fips-demo/ubuntu2204-web"
NOTREADY = "11111111-2222-3333-4444-555555555555/fips-demo/rhel96-notready"


def run_events() -> list[Any]:
    from fipswizard.engine.events import (
        RunFinished,
        RunStarted,
        StepFinished,
        StepOutput,
        StepRole,
        StepStarted,
        StepStatus,
        TargetFinished,
        TargetOutcome,
    )

    feature = "Opt in to Microsoft.Compute/OptInToFips1403Compliance"
    return [
        RunStarted("", "run-snapshot", "corr-snapshot", (SUB, WEB, NOTREADY)),
        TargetFinished(NOTREADY, TargetOutcome.DECLINED, "skipped: agent Not Ready"),
        StepStarted(SUB, "feature", feature, "reversible"),
        StepStarted(WEB, "vm-flag", "Set enableFips1403Encryption on the VM", "reversible"),
        StepOutput(SUB, "feature", "waiting for Registered (30s of 900s)", 30 / 900),
        StepFinished(SUB, "feature", StepStatus.APPLIED, "Registered"),
        TargetFinished(SUB, TargetOutcome.COMPLIANT, "every step holds"),
        StepFinished(WEB, "vm-flag", StepStatus.APPLIED, "flag on"),
        StepStarted(WEB, "guest-fips", "Enable the Ubuntu Pro fips-updates service", "disruptive"),
        StepOutput(WEB, "guest-fips", "rebooting; waiting for the agent (45s of 600s)", 0.075),
        StepFinished(WEB, "guest-fips", StepStatus.APPLIED, "fips-updates enabled"),
        StepStarted(
            WEB,
            "validate-customscript",
            "Validate: CustomScript",
            "read-only",
            role=StepRole.VALIDATION,
        ),
        StepFinished(WEB, "validate-customscript", StepStatus.APPLIED, "passed"),
        TargetFinished(WEB, TargetOutcome.COMPLIANT, "every step holds"),
        RunFinished(
            "",
            {
                SUB: TargetOutcome.COMPLIANT,
                WEB: TargetOutcome.COMPLIANT,
                NOTREADY: TargetOutcome.DECLINED,
            },
        ),
    ]


class ScreenApp(App[None]):
    """The project's styles and bindings around one screen, fed a fixed event stream."""

    CSS_PATH = Path(screens.app.__file__).with_name("app.tcss")
    TITLE, SUB_TITLE = FipsWizardApp.TITLE, FipsWizardApp.SUB_TITLE
    BINDINGS = FipsWizardApp.BINDINGS

    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def on_mount(self) -> None:
        from fipswizard.engine.report import Summary
        from screens.messages import RunEnded, engine_message
        from screens.run import RunScreen
        from screens.runner import ended_text
        from screens.summary import SummaryScreen

        events = run_events()
        summary = Summary()
        for event in events:
            summary.add(event)
        journal = Path("fips-demo.journal.jsonl")
        if self.kind == "summary":
            screen: Any = SummaryScreen(
                summary, journal=journal, save_default=Path("fips-recipe.toml")
            )
            await self.push_screen(screen)
            return
        ticks = iter(range(0, 10_000, 7))  # each event 7 s after the previous one
        planned = [(SUB, "feature"), (WEB, "vm-flag"), (WEB, "guest-fips"), (WEB, "reboot")]
        run = RunScreen(f"Running 2 VM(s); journal {journal}", planned, clock=lambda: 0.0)
        run.timing.clock = lambda: float(next(ticks))
        await self.push_screen(run)
        for event in events:
            run.post_message(engine_message(event))
        run.post_message(RunEnded("finished", ended_text("finished", summary, journal)))


@pytest.mark.parametrize("size", [SMALL, SIZE, WIDE], ids=["80x24", "100x32", "200x50"])
def test_run_screen_at_the_end(snap_compare: Any, size: Any) -> None:
    async def settle(pilot: Pilot[Any]) -> None:
        await wait_screen(pilot, RunScreen, ready=lambda s: s.ended)

    assert snap_compare(ScreenApp("run"), terminal_size=size, run_before=settle)


@pytest.mark.parametrize("size", [SMALL, SIZE, WIDE], ids=["80x24", "100x32", "200x50"])
def test_summary_screen_at(snap_compare: Any, size: Any) -> None:
    async def settle(pilot: Pilot[Any]) -> None:
        await wait_screen(pilot, SummaryScreen)

    assert snap_compare(ScreenApp("summary"), terminal_size=size, run_before=settle)
