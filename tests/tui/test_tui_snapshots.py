"""SVG snapshots of the key screens at a fixed size, against the in-process sandbox.

Deterministic: the sandbox answers through an httpx transport at the fixed public ARM URL
(no port), nothing on these screens shows a time or a random id, and no run happens.
Update after an intended change: pytest tests/tui --snapshot-update
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_helpers import wait_screen

from fipswizard.session import Options
from screens.app import FipsWizardApp, create_app
from screens.confirm import ConfirmScreen
from screens.dialogs import HelpScreen
from screens.plan_preview import PlanScreen
from screens.preflight import PreflightScreen
from screens.target import TargetScreen

SIZE = (100, 32)


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
