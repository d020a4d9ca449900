"""The certificate-package fixes: Key Vault certificate (and its rollback), deallocate + start."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.events import Diagnosed, Event
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, run_apply, run_rollback
from tests.inproc import FAST

VAULT = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/kv/providers"
    "/Microsoft.KeyVault/vaults/fips-kv"
)
CERT = "https://fips-kv.vault.azure.net/secrets/fips-cert/0123456789abcdef"


def fips_image_recipe(sandbox: SandboxAzure, fix: str) -> Recipe:
    vm = sandbox.estate.vms["ubuntu2204-fipsimage"]
    target = RecipeTarget(Target(vm.subscription, vm.resource_group, vm.name), "none")
    keyvault = {"vault_id": VAULT, "certificate_url": CERT} if fix == "keyvault" else {}
    return Recipe(targets=(target,), fix=fix, keyvault=keyvault)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> tuple[SandboxAzure, Options]:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "token-for-fix-tests")
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    return sandbox, Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )


async def test_keyvault_fix_then_rollback(
    env: tuple[SandboxAzure, Options], tmp_path: Path
) -> None:
    sandbox, opts = env
    events: list[Event] = []
    summary = await run_apply(
        fips_image_recipe(sandbox, "keyvault"),
        opts,
        HeadlessPrompter(False),
        tmp_path / "j",
        events.append,
    )
    assert summary.ok, summary.to_text()
    vm = sandbox.estate.vms["ubuntu2204-fipsimage"]
    assert any(c["certificateUrl"] == CERT for s in vm.secrets for c in s["vaultCertificates"])
    assert vm.power_state == "running"  # no downtime with the Key Vault fix
    assert any(e.fix_step == "fix-keyvault" for e in events if isinstance(e, Diagnosed))
    back = await run_rollback(tmp_path / "j", opts, HeadlessPrompter(True), lambda e: None)
    assert vm.secrets == []
    # The image itself is in FIPS mode: turning the flag off would break its extensions, so
    # rollback keeps it on (a consistent state) and says so.
    assert vm.fips_flag is True and vm.guest.fips_enabled
    row = back.targets[fips_image_recipe(sandbox, "keyvault").targets[0].target.key]
    assert str(row.outcome) == "partly rolled back" and "guest is in FIPS mode" in row.detail


async def test_reallocate_fix_needs_confirmation(
    env: tuple[SandboxAzure, Options], tmp_path: Path
) -> None:
    sandbox, opts = env
    recipe = fips_image_recipe(sandbox, "reallocate")
    refused = await run_apply(recipe, opts, HeadlessPrompter(False), tmp_path / "j", lambda e: None)
    outcome = refused.targets[recipe.targets[0].target.key].outcome
    assert str(outcome) == "needs confirmation"
    ip = sandbox.estate.vms["ubuntu2204-fipsimage"].public_ip
    done = await run_apply(recipe, opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None)
    assert done.ok, done.to_text()
    assert sandbox.estate.vms["ubuntu2204-fipsimage"].public_ip != ip  # dynamic IP changed
