"""Recorded decisions (issue 7.6): a declined fix stays declined with --yes; a skipped VM waits
for nothing. Against the in-process sandbox."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.approvals import declined_by
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe, parse_recipe
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, run_apply
from tests.inproc import FAST


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> SandboxAzure:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "token-for-decision-tests")
    return SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)


def target(sandbox: SandboxAzure, name: str, **decisions: object) -> RecipeTarget:
    vm = sandbox.estate.vms[name]
    return RecipeTarget(Target(vm.subscription, vm.resource_group, vm.name), "none", **decisions)  # type: ignore[arg-type]


async def test_replay_keeps_declined_fix_and_skips_refused_vm(
    sandbox: SandboxAzure, tmp_path: Path
) -> None:
    recipe = Recipe(
        targets=(
            target(sandbox, "ubuntu2204-fipsimage", decline=("fix-reallocate",)),
            target(sandbox, "rhel96-notready", skip="refused at preflight: agent Not Ready"),
        ),
        fix="reallocate",
    )
    # What the TUI saves is what apply reads back.
    recipe = parse_recipe(dump_recipe(recipe), "saved.toml")
    opts = Options(
        arm_endpoint="https://management.azure.com",
        settings=replace(FAST, agent_wait=30.0),  # a wait would show in the time taken
        transport=sandbox.transport(),
    )
    prompter = HeadlessPrompter(True, declined_by(recipe))
    started = time.monotonic()
    summary = await run_apply(recipe, opts, prompter, tmp_path / "j", lambda e: None)
    assert time.monotonic() - started < 15
    paths = [e["path"] for e in sandbox.log.entries()]
    assert not any(p.endswith(("/deallocate", "/start")) for p in paths), paths
    assert sandbox.estate.vms["ubuntu2204-fipsimage"].power_state == "running"
    rows = {k.rsplit("/", 1)[1]: t for k, t in summary.targets.items() if "/" in k}
    assert str(rows["ubuntu2204-fipsimage"].outcome) == "declined"
    assert "fix-reallocate" in rows["ubuntu2204-fipsimage"].failed
    assert rows["rhel96-notready"].detail == "skipped: refused at preflight: agent Not Ready"
