"""The one-boot option (issue 9 item 2) on the screen where the fix is chosen: a toggle, off by
default, its state in words; on, the recipe the wizard goes on with says reboot = "reallocate"
and the plan's guest reboots are a deallocate + start."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Checkbox, Select
from tui_helpers import wait_for, wait_screen

from screens.app import create_app
from screens.plan_preview import PlanScreen
from screens.preflight import PreflightScreen
from screens.target import TargetScreen


async def test_one_boot_toggle_reaches_the_recipe_and_the_plan(tmp_path: Path) -> None:
    app = create_app(demo=True, workdir=tmp_path / "demo")
    async with app.run_test(size=(120, 40)) as pilot:
        target = await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        box = target.query_one("#one-boot", Checkbox)
        assert not box.value and str(box.label) == "One boot: off"
        assert "temporary disk" in str(box.tooltip)  # the cost, before it is chosen
        assert target.choice.recipe(target.cloud, target.fix, target.reboot).reboot == "restart"

        box.focus()
        await pilot.press("space")
        await wait_for(pilot, lambda: box.value, what="one boot on")
        assert str(box.label) == "One boot: on"
        assert target.choice.recipe(target.cloud, target.fix, target.reboot).reboot == "reallocate"

        # Without the deallocate + start fix the option does not apply: disabled, not recorded.
        fix = target.query_one("#fix", Select)
        fix.value = "none"
        await wait_for(pilot, lambda: box.disabled, what="one boot disabled")
        assert target.choice.recipe(target.cloud, target.fix, target.reboot).reboot == "restart"
        fix.value = "reallocate"
        await wait_for(pilot, lambda: not box.disabled, what="one boot enabled")

        await pilot.press("ctrl+n")
        pre = await wait_screen(pilot, PreflightScreen)
        offers = [f for r in pre.rows for f in r.findings if "one boot instead" in f.text]
        assert offers == []  # chosen: nothing left to offer
        await pilot.press("ctrl+n")
        plan = (await wait_screen(pilot, PlanScreen)).plan
        assert plan.recipe.reboot == "reallocate"
        modes: dict[object, set[object]] = {}
        for u in plan.vm_units:
            for s in u.steps:
                if s.kind == "guest-reboot":
                    modes.setdefault(plan.facts[u.key].get("flag"), set()).add(
                        s.params.get("reboot")
                    )
        # The flag this run sets: one boot; the flag already on: the plain restart stays.
        assert modes[False] == {"reallocate"} and "reallocate" not in modes.get(True, set())
