"""A recorded selector seen by the run: `apply` reports drift (a VM added after `recipe new`)
as a warning Finding and never acts on the newcomer; a Resource Graph query is a read."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fipswizard.engine.events import Event, Finding, RunStarted
from fipswizard.engine.plan import SELECTOR_DRIFT
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import load_recipe
from fipswizard.sandbox import SandboxAzure
from fipswizard.sandbox.estate import Estate, new_vm
from fipswizard.sandbox.model import Subscription
from fipswizard.sandbox.os_images import make_guest
from fipswizard.session import make_arm, make_cloud, make_plan, run_apply
from tests.test_scale_sets import _new_args, _opts
from tests.test_selection import KQL, SUB_A, SUB_B, fleet

GROUP = "small-fleet"


def _add(estate: Estate, name: str) -> None:
    image = "ubuntu-pro-2204"
    estate.add_vm(new_vm(SUB_A, GROUP, name, "westus2", image, make_guest(image), ""))


async def test_apply_reports_vm_added_after_recipe_new_and_leaves_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fipswizard.headless import commands

    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "selector-token-0000")
    estate = Estate()
    estate.add_subscription(Subscription(SUB_A, "a"))
    for name in ("app0", "app1"):
        _add(estate, name)
    sandbox = SandboxAzure(estate, op_seconds=0.05)
    monkeypatch.setattr(commands, "options", lambda args: _opts(sandbox))
    args = _new_args(tmp_path, subscription=[SUB_A], resource_group=[GROUP], guest="none")
    assert await asyncio.to_thread(commands.recipe_new, args) == 0
    recipe = load_recipe(tmp_path / "r.toml")
    _add(estate, "app2")  # created after the recipe was frozen
    events: list[Event] = []
    summary = await run_apply(
        recipe, _opts(sandbox), HeadlessPrompter(True), tmp_path / "j.jsonl", events.append
    )
    drift = [e for e in events if isinstance(e, Finding) and e.code == SELECTOR_DRIFT]
    assert len(drift) == 1, "said once, at the start"
    assert drift[0].level == "warning"
    assert f"newly selected, NOT in this run): {SUB_A}/{GROUP}/app2" in drift[0].text
    assert isinstance(events[0], RunStarted) and events.index(drift[0]) == 1
    outcomes = {k: v for k, v in summary.outcomes().items() if not k.startswith("subscription:")}
    assert outcomes == {f"{SUB_A}/{GROUP}/app{i}": "compliant" for i in range(2)}
    assert not [e for e in sandbox.log.writes() if "app2" in e["path"].lower()]
    assert not estate.vms["app2"].fips_flag and estate.vms["app1"].fips_flag


async def test_apply_reports_an_unreadable_vm_note_as_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "selector-token-0000")
    from fipswizard.context import Target
    from fipswizard.recipe import Recipe, RecipeTarget

    estate = Estate()
    estate.add_subscription(Subscription(SUB_A, "a"))
    _add(estate, "app0")
    sandbox = SandboxAzure(estate, op_seconds=0.05)
    recipe = Recipe(targets=(RecipeTarget(Target(SUB_A, GROUP, "gone"), "none"),), validate=False)
    events: list[Event] = []
    await run_apply(
        recipe, _opts(sandbox), HeadlessPrompter(True), tmp_path / "j.jsonl", events.append
    )
    found = [e for e in events if isinstance(e, Finding) and e.code == "vm-unreadable"]
    assert [f.level for f in found] == ["warning"]
    assert "could not read the VM" in found[0].text


async def test_plan_of_a_query_recipe_sends_no_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fipswizard.headless import commands

    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "selector-token-0000")
    sandbox = SandboxAzure(fleet())
    monkeypatch.setattr(commands, "options", lambda args: _opts(sandbox))
    args = _new_args(tmp_path, subscription=[SUB_A, SUB_B], query=KQL)
    assert await asyncio.to_thread(commands.recipe_new, args) == 0
    recipe = load_recipe(tmp_path / "r.toml")
    sandbox.log.clear()
    opts = _opts(sandbox)
    async with make_arm(make_cloud(recipe, opts), "c", opts) as arm:
        await make_plan(recipe, opts, offline=False, arm=arm)
    graph = [e for e in sandbox.log.entries() if "resourcegraph" in e["path"].lower()]
    assert graph and {e["method"] for e in graph} == {"POST"}, "the selector was re-evaluated"
    assert not [e for e in graph if e["write"]]
    assert sandbox.log.writes() == []
