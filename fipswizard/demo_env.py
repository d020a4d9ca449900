"""The demo environment shared by both front ends: the simulated Azure on loopback, the demo
recipe naming every VM of the demo estate (each covering one interesting case), and what each
VM should end as.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from fipswizard.context import Target
from fipswizard.engine.events import TargetOutcome
from fipswizard.engine.journal import Journal
from fipswizard.engine.report import Summary
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe
from fipswizard.secrets import Secret
from fipswizard.session import Options, Services, settings_from_env

# What each demo VM should end as (the sandbox estate describes why).
EXPECTED: dict[str, TargetOutcome] = {
    "ubuntu2204-web": TargetOutcome.COMPLIANT,
    "ubuntu2404-api": TargetOutcome.COMPLIANT,
    "rhel95-db": TargetOutcome.COMPLIANT,
    "rhel94-app": TargetOutcome.COMPLIANT,
    "alma92-ledger": TargetOutcome.COMPLIANT,
    "flatcar-edge": TargetOutcome.COMPLIANT,  # stock Flatcar: agent auto-update turned on
    "ubuntu2204-fipsimage": TargetOutcome.COMPLIANT,
    "rhel96-notready": TargetOutcome.FAILED,
    "ubuntu2204-bootstrap": TargetOutcome.COMPLIANT,
    "ubuntu2204-mexico": TargetOutcome.REGION_NOT_SUPPORTED,
    "ubuntu2204-batch": TargetOutcome.COMPLIANT,
    "webpool_4f2a9c1e": TargetOutcome.DECLINED,  # a scale-set VM: explained, never written
}
DEMO_TOKEN = "sandbox-demo-access-token"
DEMO_SECRET_VALUES = {"tuxcare_key": "DEMO-TUXCARE-LICENCE-KEY-0000"}  # by recipe name


def demo_services() -> Services:
    """The demo's credential and secrets, handed to the run (never through os.environ)."""
    from fipswizard.azure.credentials import StaticToken

    return Services(
        credential=StaticToken(Secret(DEMO_TOKEN, "demo access token")),
        secrets={name: Secret(value, name) for name, value in DEMO_SECRET_VALUES.items()},
    )


@dataclass
class DemoEnv:
    endpoint: str
    recipe: Recipe
    recipe_path: Path
    journal_path: Path
    opts: Options
    expected: dict[str, str]
    scenarios: dict[str, str]


def demo_recipe(sandbox: object, path: Path) -> Recipe:
    vms = sandbox.estate.vms.values()  # type: ignore[attr-defined]
    targets = tuple(
        RecipeTarget(Target(vm.subscription, vm.resource_group, vm.name), "auto")
        for vm in sorted(vms, key=lambda v: (v.subscription, v.name))
    )
    return Recipe(targets=targets, fix="reallocate", path=str(path))


@asynccontextmanager
async def demo_environment(workdir: Path | None = None) -> AsyncIterator[DemoEnv]:
    """Start the simulated Azure on loopback and yield everything a front end needs."""
    from fipswizard.sandbox import SandboxAzure, SandboxServer, demo_estate

    sandbox = SandboxAzure(demo_estate(), op_seconds=0.3, registration_seconds=1.5)
    server = SandboxServer(sandbox)
    endpoint = await server.start()
    try:
        folder = workdir or Path(tempfile.mkdtemp(prefix="fipswizard-demo-"))
        folder.mkdir(parents=True, exist_ok=True)
        recipe_path = folder / "demo.toml"
        recipe = demo_recipe(sandbox, recipe_path)
        recipe_path.write_text(dump_recipe(recipe), encoding="utf-8")
        settings = replace(
            settings_from_env(),
            feature_poll=0.3,
            agent_poll=0.3,
            reboot_timeout=60.0,
            feature_timeout=120.0,
            agent_wait=3.0,
        )
        opts = Options(arm_endpoint=endpoint, settings=settings, services=demo_services())
        by_key = {rt.target.key: str(EXPECTED[rt.target.vm]) for rt in recipe.targets}
        scenarios = {vm.name: vm.scenario for vm in sandbox.estate.vms.values()}
        yield DemoEnv(
            endpoint, recipe, recipe_path, Journal.default_for(recipe_path), opts, by_key, scenarios
        )
    finally:
        await server.stop()


def compare(summary: Summary, expected: dict[str, str]) -> list[str]:
    """Lines naming every target that did not end as its scenario says it should."""
    got = summary.outcomes()
    return [
        f"{key}: expected {want}, got {got.get(key, 'nothing')}"
        for key, want in expected.items()
        if got.get(key) != want
    ]
