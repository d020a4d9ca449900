"""Rollback from the summary: its own preview (the journal's pending undos) and confirmation,
then the VMs are as before the run; rolling back the same journal again finds nothing."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input
from tui_helpers import (
    MessageLog,
    answer_questions,
    open_recipe_with,
    through_to_run,
    wait_screen,
)

from fipswizard.engine.journal import Journal
from fipswizard.engine.rollback import pending_undos
from screens.app import create_app
from screens.approval_list import ApprovalList
from screens.dialogs import PathDialog
from screens.messages import Notice
from screens.rollback import RollbackScreen
from screens.run import RunScreen
from screens.summary import SummaryScreen
from screens.target import TargetScreen
from screens.target_model import fetch
from screens.validation import ValidationScreen


async def test_rollback_from_the_summary_restores_the_vms(tmp_path: Path) -> None:
    app = create_app(demo=True, workdir=tmp_path / "demo")
    log = MessageLog()
    recipe_file = tmp_path / "two.toml"
    journal = Journal.default_for(recipe_file)
    async with app.run_test(size=(120, 40), message_hook=log) as pilot:
        recipe = await open_recipe_with(pilot, ["ubuntu2204-web", "rhel94-app"], recipe_file)
        sub, group = recipe.targets[0].target.subscription, recipe.targets[0].target.resource_group
        opts = app.wizard.session.opts
        before = {r["name"]: r["flag"] for r in await fetch(opts, "AzureCloud", "vms", sub, group)}
        await through_to_run(pilot)
        await answer_questions(pilot, "y")
        await pilot.press("ctrl+n")
        await wait_screen(pilot, ValidationScreen)
        await pilot.press("ctrl+n")
        await wait_screen(pilot, SummaryScreen)
        during = {r["name"]: r["flag"] for r in await fetch(opts, "AzureCloud", "vms", sub, group)}
        assert (before["ubuntu2204-web"], during["ubuntu2204-web"]) == ("off", "on")

        await pilot.press("ctrl+b")
        preview = await wait_screen(pilot, RollbackScreen)
        expected = [u.describe() for u in pending_undos(Journal(journal))]
        assert [u.describe() for u in preview.undos] == expected and expected
        assert any("enableFips1403Encryption" in line for line in expected)
        # The reboot that makes the undone guest changes take effect is approved on the
        # preview ("if needed", per VM), never asked mid-rollback.
        reboots = preview.query_one(ApprovalList).state_lines()
        assert any("[x]" in line and "guest-reboot, if needed" in line for line in reboots)
        await pilot.press("ctrl+n")
        asked = await answer_questions(pilot, "y")
        assert asked == [], "the rollback asks nothing once the preview approved it"
        run = await wait_screen(pilot, RunScreen, ready=lambda s: s.ended)
        assert run.ended == "finished"
        await pilot.press("ctrl+n")
        summary = await wait_screen(pilot, SummaryScreen, ready=lambda s: s.is_rollback)
        assert summary.summary.ok, summary.summary.to_text()
        assert set(summary.summary.targets) >= {rt.target.key for rt in recipe.targets}
        after = {r["name"]: r["flag"] for r in await fetch(opts, "AzureCloud", "vms", sub, group)}
        assert after == before  # rhel94-app was opted in before the run: left as it was
        assert pending_undos(Journal(journal)) == []

        await pilot.press("ctrl+n")  # new run; rolling the same journal back finds nothing
        await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        await pilot.press("ctrl+b")
        dialog = await wait_screen(pilot, PathDialog)
        dialog.query_one(Input).value = str(journal)
        await pilot.press("enter")
        await wait_screen(pilot, TargetScreen)
        await pilot.pause(0.2)
    assert [m.text for m in log.of(Notice)] == [f"Nothing to roll back in {journal}."]


async def test_rollback_screen_approves_the_undos_and_the_reboots_as_ticked(
    tmp_path: Path,
) -> None:
    """Issue 11: rolling back from the preview approves every undo; each VM's reboot ("if
    needed") is ticked or not in a list like the Confirm screen's. No sentinel, no text."""
    from fipswizard.engine.approvals import ApprovalItem
    from fipswizard.session import Options
    from screens.results import RunChoice

    def item(vm: str, step: str, kind: str, conditional: bool = False) -> ApprovalItem:
        return ApprovalItem(f"s/rg/{vm}", step, kind, f"{kind} {vm}", "cost", conditional)

    undos = [item(vm, "os.fips", "guest-script") for vm in ("vm1", "vm2")]
    reboots = [item(vm, "os.reboot", "guest-reboot", True) for vm in ("vm1", "vm2")]
    app = create_app(demo=False, opts=Options(), workdir=tmp_path, autostart=False)
    got: list[object] = []
    async with app.run_test(size=(120, 40)) as pilot:
        screen = RollbackScreen([], tmp_path / "j", [*undos, *reboots])
        app.push_screen(screen, got.append)
        listing = await wait_screen(pilot, RollbackScreen)
        approvals = listing.query_one(ApprovalList)
        assert [i.key for i in approvals.items] == [i.key for i in reboots]  # only the reboots
        approvals.focus()
        await pilot.press("down", "down", "space")  # vm2's header: decline its reboot
        await pilot.press("ctrl+n")
        await pilot.pause()
    assert got == [
        RunChoice(
            approved=frozenset(i.key for i in [*undos, reboots[0]]),
            known=frozenset(i.key for i in [*undos, *reboots]),
        )
    ]
