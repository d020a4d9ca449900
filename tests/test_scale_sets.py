"""Scale sets: a Flexible scale-set VM is recognised, explained with the source, never written;
a recipe written by selection records it as skipped; plan/apply say the selector drifted."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.events import Event, TargetFinished, TargetOutcome
from fipswizard.engine.preview import plan_text
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget, load_recipe
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION, new_vm
from fipswizard.sandbox.os_images import make_guest
from fipswizard.session import Options, make_arm, make_cloud, make_plan, run_apply
from tests.inproc import FAST
from tests.test_selection import SUB_A, SUB_B, fleet

POOL_VM = "webpool_4f2a9c1e"
ARM = "https://management.azure.com"


def _opts(sandbox: SandboxAzure) -> Options:
    return Options(arm_endpoint=ARM, settings=FAST, transport=sandbox.transport())


async def test_scale_set_vm_is_explained_and_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "scale-set-token-0000")
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05)
    names = [POOL_VM, "ubuntu2204-web"]
    recipe = Recipe(
        targets=tuple(
            RecipeTarget(Target(DEMO_SUBSCRIPTION, DEMO_GROUP, n), "none") for n in names
        ),
        validate=False,
    )
    opts = _opts(sandbox)
    async with make_arm(make_cloud(recipe, opts), "c", opts) as arm:
        plan = await make_plan(recipe, opts, offline=False, arm=arm)
    text = plan_text(plan, {})
    reason = plan.skipped[f"{DEMO_SUBSCRIPTION}/{DEMO_GROUP}/{POOL_VM}"]
    assert "scale set webpool" in reason and "agent-linux-fips" in reason
    assert "propagate" in reason and reason in text
    events: list[Event] = []
    summary = await run_apply(
        recipe, opts, HeadlessPrompter(True), tmp_path / "j.jsonl", events.append
    )
    finished = {e.target: e for e in events if isinstance(e, TargetFinished)}
    pool = finished[f"{DEMO_SUBSCRIPTION}/{DEMO_GROUP}/{POOL_VM}"]
    assert pool.outcome == TargetOutcome.DECLINED and "scale set" in pool.detail
    writes = [e for e in sandbox.log.entries() if e["method"] not in ("GET", "HEAD")]
    assert writes, "the standalone VM was worked on"
    assert not [e for e in writes if POOL_VM.lower() in e["path"].lower()]
    assert not sandbox.estate.vms[POOL_VM].fips_flag
    assert sandbox.estate.vms["ubuntu2204-web"].fips_flag
    assert summary.outcomes()[f"{DEMO_SUBSCRIPTION}/{DEMO_GROUP}/ubuntu2204-web"] == "compliant"


def _new_args(tmp_path: Path, **kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "subscription": None,
        "resource_group": None,
        "tag": None,
        "query": None,
        "vm": None,
        "exclude": None,
        "cloud": "AzureCloud",
        "guest": "auto",
        "fix": "reallocate",
        "vault_id": None,
        "certificate_url": None,
        "custom_endpoint": None,
        "authority": None,
        "custom_ca_bundle": None,
        "concurrency": 8,
        "output": str(tmp_path / "r.toml"),
        "arm_endpoint": ARM,
        "ca_bundle": None,
        "verbose": False,
    }
    return argparse.Namespace(**{**base, **kw})


async def test_recipe_new_freezes_35_records_selector_and_plan_reports_newcomer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fipswizard.headless import commands

    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "selector-token-0000")
    estate = fleet()
    sandbox = SandboxAzure(estate)
    monkeypatch.setattr(commands, "options", lambda args: _opts(sandbox))
    args = _new_args(
        tmp_path, subscription=[SUB_A, SUB_B], resource_group=["web-fleet"], tag=["env=prod"]
    )
    # recipe new runs its own event loop: run it in a thread as the CLI would run it alone
    import asyncio

    assert await asyncio.to_thread(commands.recipe_new, args) == 0
    recipe = load_recipe(tmp_path / "r.toml")
    assert len(recipe.targets) == 35
    assert recipe.selector == {
        "subscriptions": [SUB_A, SUB_B],
        "resource_groups": ["web-fleet"],
        "tags": ["env=prod"],
    }
    assert not [e for e in sandbox.log.entries() if e["method"] != "GET"]
    opts = _opts(sandbox)
    async with make_arm(make_cloud(recipe, opts), "c", opts) as arm:
        same = plan_text(await make_plan(recipe, opts, offline=False, arm=arm), {})
    assert "newly selected" not in same and "no longer selects" not in same
    estate.add_vm(
        new_vm(
            SUB_A,
            "web-fleet",
            "web30",
            "westus2",
            "ubuntu-pro-2204",
            make_guest("ubuntu-pro-2204"),
            "",
        )
    )
    async with make_arm(make_cloud(recipe, opts), "c", opts) as arm:
        later = await make_plan(recipe, opts, offline=False, arm=arm)
    text = plan_text(later, {})
    assert f"newly selected, NOT in this run): {SUB_A}/web-fleet/web30" in text
    assert len(later.vm_units) == 35  # the run still works on the frozen list


async def test_recipe_new_marks_scale_set_vm_skip_with_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from fipswizard.headless import commands

    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "selector-token-0000")
    sandbox = SandboxAzure(demo_estate())
    monkeypatch.setattr(commands, "options", lambda args: _opts(sandbox))
    args = _new_args(tmp_path, subscription=[DEMO_SUBSCRIPTION], resource_group=[DEMO_GROUP])
    assert await asyncio.to_thread(commands.recipe_new, args) == 0
    recipe = load_recipe(tmp_path / "r.toml")
    skips = {rt.target.vm: rt.skip for rt in recipe.targets if rt.skip}
    assert list(skips) == [POOL_VM] and "scale set webpool" in str(skips[POOL_VM])
    assert len(recipe.targets) == len(
        [v for v in demo_estate().vms.values() if v.subscription == DEMO_SUBSCRIPTION]
    )


async def test_recipe_new_by_kql_selects_the_same_35(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from fipswizard.headless import commands
    from tests.test_selection import EXPECTED, KQL

    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "selector-token-0000")
    sandbox = SandboxAzure(fleet())
    monkeypatch.setattr(commands, "options", lambda args: _opts(sandbox))
    args = _new_args(tmp_path, subscription=[SUB_A, SUB_B], query=KQL)
    assert await asyncio.to_thread(commands.recipe_new, args) == 0
    recipe = load_recipe(tmp_path / "r.toml")
    assert {rt.target.key for rt in recipe.targets} == EXPECTED
    assert recipe.selector["query"] == KQL


def test_recipe_new_selection_bad_input_exits_2(tmp_path: Path) -> None:
    from fipswizard.headless.cli import main

    assert main(["recipe", "new", "--subscription", SUB_A]) == 2  # nothing selects a VM
    assert main(["recipe", "new", "--resource-group", "rg"]) == 2  # no subscription, no query
