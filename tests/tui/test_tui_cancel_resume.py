"""Safe cancel: cancelling the engine worker leaves the journal with the state; the run is
then resumed from that journal through the target screen and finishes."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input
from tui_helpers import (
    MessageLog,
    answer_questions,
    open_recipe_with,
    through_to_run,
    wait_for,
    wait_screen,
)

from fipswizard.engine.journal import Journal
from screens.app import create_app
from screens.dialogs import PathDialog, YesNoDialog
from screens.messages import RunEnded
from screens.run import RunScreen
from screens.summary import SummaryScreen
from screens.target import TargetScreen
from screens.validation import ValidationScreen


async def test_cancel_keeps_the_journal_then_resume_finishes(tmp_path: Path) -> None:
    app = create_app(demo=True, workdir=tmp_path / "demo")
    log = MessageLog()
    recipe_file = tmp_path / "one.toml"
    journal = Journal.default_for(recipe_file)
    async with app.run_test(size=(120, 40), message_hook=log) as pilot:
        recipe = await open_recipe_with(pilot, ["ubuntu2204-web"], recipe_file)
        key = recipe.targets[0].target.key
        run = await through_to_run(pilot)
        # cancel once the VM's own steps are under way (after the flag step finished)
        await wait_for(
            pilot,
            lambda: (
                "vm-flag" in run.record.target(key).steps
                and run.record.target(key).steps["vm-flag"].status != "running"
            ),
            what="the flag step",
        )
        await pilot.press("ctrl+x")
        await wait_screen(pilot, YesNoDialog)
        await pilot.click("#yes")
        await wait_screen(pilot, RunScreen, ready=lambda s: s.ended)
        assert run.ended == "cancelled"

        records = Journal(journal).records()
        events = [r["event"] for r in records]
        assert events[0] == "recipe" and "run-start" in events and "run-end" not in events
        begun = [r["step_id"] for r in records if r["event"] == "step-begin"]
        assert "vm-flag" in begun  # the write that was done is recorded for rollback/resume
        assert not run.record.target(key).outcome  # the VM never finished

        await pilot.press("ctrl+n")
        await wait_screen(pilot, ValidationScreen)
        await pilot.press("ctrl+n")
        summary = await wait_screen(pilot, SummaryScreen)
        assert summary.summary.targets[key].outcome is None
        await pilot.press("ctrl+n")  # new run: resume the journal from the target screen
        await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        await pilot.press("ctrl+r")
        dialog = await wait_screen(pilot, PathDialog)
        dialog.query_one(Input).value = str(journal)
        await pilot.press("enter")
        await wait_for(
            pilot,
            lambda: type(app.screen).__name__ == "PreflightScreen",
            what="preflight of the resumed run",
        )
        await through_to_run(pilot, from_preflight=True)
        await answer_questions(pilot, "y")
        resumed = app.screen
        assert resumed.ended == "finished"
        assert resumed.record.target(key).outcome == "compliant"
        # the resumed run skipped what the cancelled one had already done
        assert resumed.record.target(key).steps["vm-flag"].status == "skipped"

    assert [m.how for m in log.of(RunEnded)] == ["cancelled", "finished"]
    after = [r["event"] for r in Journal(journal).records()]
    assert after.count("run-start") == 2 and after[-1] == "run-end"
