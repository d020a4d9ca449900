"""The recipe's Compute api-version is the one every VM request carries."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from fipswizard.context import Settings, Target
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, run_apply


@pytest.mark.parametrize("api", ["2024-11-01", "2025-04-01"])
async def test_recipe_api_version_is_used(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "api-version-token")
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    vm = sandbox.estate.vms["ubuntu2204-batch"]
    recipe = Recipe(
        targets=(RecipeTarget(Target(vm.subscription, vm.resource_group, vm.name), "none"),),
        compute_api=api,
        validate=False,
    )
    opts = Options(
        arm_endpoint="https://management.azure.com",
        settings=replace(Settings(), agent_poll=0.05),
        transport=sandbox.transport(),
    )
    summary = await run_apply(recipe, opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None)
    assert summary.ok, summary.to_text()
    vm_requests = [e for e in sandbox.log.entries() if "/virtualMachines/" in e["path"]]
    assert vm_requests and all(f"api-version={api}" in e["query"] for e in vm_requests)
