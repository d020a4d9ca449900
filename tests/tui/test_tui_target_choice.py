"""The target phase as a person uses it: filter, tick, pick the fix; the saved recipe says so
and `fipswizard apply` (the CLI) replays it against the same simulated Azure to the same end."""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Input, Select
from tui_helpers import MessageLog, answer_questions, run_cli, wait_for, wait_screen

from fipswizard.demo_env import EXPECTED
from fipswizard.recipe import load_recipe
from screens.app import create_app
from screens.dialogs import PathDialog
from screens.preflight import PreflightScreen
from screens.run import RunScreen
from screens.summary import SummaryScreen
from screens.target import TargetScreen
from screens.validation import ValidationScreen


async def test_filter_choose_fix_none_save_and_replay_with_the_cli(tmp_path: Path) -> None:
    app = create_app(demo=True, workdir=tmp_path / "demo")
    saved = tmp_path / "two-vms.toml"
    log = MessageLog()
    async with app.run_test(size=(120, 40), message_hook=log) as pilot:
        target = await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        assert len(target.choice.chosen) == len(EXPECTED)
        await pilot.press("ctrl+a")  # every shown VM is chosen: ^A un-chooses them
        assert [rt.target.vm for rt in target.choice.chosen.values()] == ["ubuntu2204-batch"]

        await pilot.click("#filter")
        await pilot.press(*"2204-web")
        await wait_for(pilot, lambda: target.query_one("#vms").option_count == 1, what="filter")
        target.query_one("#vms").focus()
        await pilot.press("space")
        chosen = sorted(rt.target.vm for rt in target.choice.chosen.values())
        assert chosen == ["ubuntu2204-batch", "ubuntu2204-web"]

        fix = target.query_one("#fix", Select)
        fix.focus()
        await pilot.press("enter", "down", "enter")
        await wait_for(pilot, lambda: fix.value == "none", what="fix = none")
        await pilot.press("ctrl+n")

        pre = await wait_screen(pilot, PreflightScreen)
        assert sorted(r.vm for r in pre.rows) == chosen
        await pilot.press("ctrl+n", "ctrl+n")  # plan, then confirm
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen", what="confirm")
        await pilot.press("ctrl+n")
        asked = await answer_questions(pilot, "n")
        assert asked == []  # fix = none: nothing to propose
        run = await wait_screen(pilot, RunScreen, ready=lambda s: s.ended)
        assert run.ended == "finished"
        await pilot.press("ctrl+n")
        await wait_screen(pilot, ValidationScreen)
        await pilot.press("ctrl+n")
        summary = await wait_screen(pilot, SummaryScreen)
        tui = summary.summary.outcomes()
        await pilot.press("ctrl+s")
        dialog = await wait_screen(pilot, PathDialog)
        dialog.query_one(Input).value = str(saved)
        await pilot.press("enter")
        await wait_screen(pilot, SummaryScreen, ready=lambda s: s.note)

        recipe = load_recipe(saved)
        assert recipe.fix == "none"
        assert sorted(rt.target.vm for rt in recipe.targets) == chosen

        endpoint = app.wizard.session.opts.arm_endpoint or ""
        code, out, err = await run_cli(
            "--arm-endpoint",
            endpoint,
            "apply",
            str(saved),
            "--yes",
            "--format",
            "json",
            "--journal",
            str(tmp_path / "cli.journal.jsonl"),
            env={"FIPSWIZARD_POLL_INTERVAL": "0.2"},
        )
        replay = {t["target"]: t["outcome"] for t in json.loads(out)["targets"]}
        assert replay == tui, err
        assert code == (0 if set(tui.values()) == {"compliant"} else 1)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="exit")
