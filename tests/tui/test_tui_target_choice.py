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


async def test_select_by_rule_records_the_selector_as_recipe_new_does(tmp_path: Path) -> None:
    """The target screen's "Select by rule": the whole resource group minus exclusions, then a
    Resource Graph query plus a tag; the recipe it hands on carries [selector] and the scale-set
    VM is kept as `skip` with its reason; a tick by hand drops the selector."""
    from textual.widgets import Checkbox

    from fipswizard.recipe import dump_recipe, parse_recipe
    from fipswizard.sandbox import demo_estate
    from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION
    from screens.selector_dialog import SelectorDialog

    in_group = sorted(
        v.name
        for v in demo_estate().vms.values()
        if (v.subscription, v.resource_group) == (DEMO_SUBSCRIPTION, DEMO_GROUP)
    )
    app = create_app(demo=True, workdir=tmp_path / "demo")
    async with app.run_test(size=(120, 40)) as pilot:
        target = await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        assert (target.sub, target.group) == (DEMO_SUBSCRIPTION, DEMO_GROUP)

        async def rule(whole: bool, tags: str, kql: str, exclude: str) -> None:
            target.choice.selector = {}
            await pilot.click("#rule")
            dialog = await wait_screen(pilot, SelectorDialog)
            dialog.query_one("#rg", Checkbox).value = whole
            dialog.query_one("#tags", Input).value = tags
            dialog.query_one("#kql", Input).value = kql
            dialog.query_one("#exclude", Input).value = exclude
            await pilot.click("#ok")
            await wait_for(pilot, lambda: target.choice.selector, what="selected by rule")

        await rule(True, "", "", "rhel95-db, fips-demo/flatcar-edge")
        chosen = {rt.target.vm: rt for rt in target.choice.chosen.values()}
        assert sorted(chosen) == [n for n in in_group if n not in ("rhel95-db", "flatcar-edge")]
        assert "scale set webpool" in str(chosen["webpool_4f2a9c1e"].skip)
        recipe = target.choice.recipe(target.cloud, target.fix)
        assert recipe.selector == {
            "subscriptions": [DEMO_SUBSCRIPTION],
            "resource_groups": [DEMO_GROUP],
            "exclude": ["rhel95-db", "fips-demo/flatcar-edge"],
        }
        text = dump_recipe(recipe)
        assert "[selector]" in text
        again = parse_recipe(text, "<tui>")  # what `apply` reads back
        assert again.selector == recipe.selector
        assert {rt.target.vm: rt.skip for rt in again.targets if rt.skip} == {
            "webpool_4f2a9c1e": chosen["webpool_4f2a9c1e"].skip
        }

        kql = (
            "Resources | where type =~ 'microsoft.compute/virtualmachines' "
            "| where name in~ ('rhel95-db', 'FLATCAR-EDGE') | project id, name"
        )
        await rule(False, "owner=nobody", kql, "")
        assert sorted(rt.target.vm for rt in target.choice.chosen.values()) == [
            "flatcar-edge",
            "rhel95-db",
        ]
        assert target.choice.selector == {
            "subscriptions": [DEMO_SUBSCRIPTION],
            "tags": ["owner=nobody"],
            "query": kql,
        }
        assert "selected by rule" in str(target.query_one("#chosen").render())

        # A tick by hand: the list is no longer what the rule selects, so no selector.
        await pilot.click("#filter")
        await pilot.press(*"2204-web")
        await wait_for(pilot, lambda: target.query_one("#vms").option_count == 1, what="filter")
        target.query_one("#vms").focus()
        await pilot.press("space")
        assert target.choice.selector == {}
        assert len(target.choice.chosen) == 3

        # Nothing selects: a clear error, the choice unchanged.
        await pilot.click("#rule")
        dialog = await wait_screen(pilot, SelectorDialog)
        assert dialog.query_one("#kql", Input).value == kql  # the last rule, offered again
        for field in ("#tags", "#kql"):
            dialog.query_one(field, Input).value = ""
        await pilot.click("#ok")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ErrorDialog", what="error")
        assert "nothing selects VMs" in app.screen.info.message  # type: ignore[attr-defined]
        assert len(target.choice.chosen) == 3
