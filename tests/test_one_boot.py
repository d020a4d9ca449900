"""The one-boot option (issue 9 item 2): with `reboot = "reallocate"` and `fix = "reallocate"`,
the guest reboot of a VM whose flag this run sets is a deallocate + start, which also issues
the new certificate package (sandbox: fipswizard/sandbox/arm_actions.py, a restart keeps the
package, deallocate + start regenerates it), so validation passes first time: one boot, no
fix. A kill between the deallocate and the start is recovered by the next apply or rollback."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from fipswizard.context import Settings, Target
from fipswizard.engine.approvals import plan_items
from fipswizard.engine.events import Event, StepFinished, StepStarted
from fipswizard.engine.journal import Journal
from fipswizard.engine.plan import build_plan
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.errors import ExitCode, RecipeError
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe, parse_recipe
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, run_apply, run_rollback
from tests.inproc import FAST, Killed, KillWhen

ROOT = Path(__file__).resolve().parent.parent
SUB = "00000000-0000-0000-0000-000000000001"
VM = "ubuntu2204-web"  # Ubuntu Pro 22.04, flag off: today a restart, then the fix's boot
ARM = "https://management.azure.com"


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "one-boot-token")
    monkeypatch.setenv("FIPSWIZARD_PRO_TOKEN", "one-boot-pro-token")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


# -- the plan ----------------------------------------------------------------------------------


def plan_for(reboot: str, flag: bool | None = False, fix: str = "reallocate") -> Any:
    target = RecipeTarget(Target(SUB, "rg", "web"), "ubuntu")
    recipe = Recipe(targets=(target,), fix=fix, reboot=reboot)
    facts: dict[str, Any] = {"location": "uksouth"}
    if flag is not None:
        facts["flag"] = flag
    return build_plan(
        recipe, {target.target.key: facts}, endpoint=ARM, settings=Settings(), offline=False
    )


def reboot_of(plan: Any) -> Any:
    return next(s for s in plan.all_steps() if s.kind == "guest-reboot")


def test_plan_shows_deallocate_and_start_for_the_reboot_when_chosen() -> None:
    plan = plan_for("reallocate")
    step = reboot_of(plan)
    sent = [(a.method, a.url.split("?")[0].rsplit("/", 1)[-1]) for a in step.actions()]
    assert sent == [("GET", "web"), ("POST", "deallocate"), ("POST", "start"), ("GET", "web")]
    assert "deallocate + start" in step.title
    # Approved like any other disruptive step, its cost named.
    item = next(i for i in plan_items(plan) if i.step_id == step.id)
    for cost in ("downtime", "public IP", "temporary disk"):
        assert cost in item.cost, item.cost
    assert not any("one boot instead of two" in n for n in plan.units[-1].notes)


def test_plan_offers_the_option_when_it_is_not_chosen() -> None:
    plan = plan_for("restart")
    sent = [a.url.split("?")[0].rsplit("/", 1)[-1] for a in reboot_of(plan).actions()]
    assert "restart" in sent and "deallocate" not in sent
    offers = [n for u in plan.units for n in u.notes if "one boot instead of two" in n]
    assert len(offers) == 1 and 'reboot = "reallocate"' in offers[0]
    # Offered only where it helps: not when nothing sets the flag, not without the fix.
    for other in (plan_for("restart", flag=True), plan_for("restart", fix="none")):
        assert not any("one boot" in n for u in other.units for n in u.notes)


def test_flag_already_on_keeps_the_restart_and_says_so() -> None:
    plan = plan_for("reallocate", flag=True)
    sent = [a.url.split("?")[0].rsplit("/", 1)[-1] for a in reboot_of(plan).actions()]
    assert "restart" in sent and "deallocate" not in sent
    assert any("stays a restart" in n for u in plan.units for n in u.notes)
    # Offline (flag unknown): this run may set it, so the one boot stands.
    sent = [a.url.split("?")[0] for a in reboot_of(plan_for("reallocate", flag=None)).actions()]
    assert any(u.endswith("/deallocate") for u in sent)


# -- the recipe --------------------------------------------------------------------------------

TEXT = f"""version = 1
fix = "reallocate"
reboot = "reallocate"

[[target]]
subscription = "{SUB}"
resource_group = "rg"
vm = "web"
"""


def test_recipe_key_round_trips_through_the_writer() -> None:
    recipe = parse_recipe(TEXT, "r.toml")
    assert recipe.reboot == "reallocate"
    again = parse_recipe(dump_recipe(recipe), "r.toml")
    assert again == recipe
    assert parse_recipe(TEXT.replace('reboot = "reallocate"\n', ""), "r.toml").reboot == "restart"


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ('reboot = "reallocate"', 'reboot = "deallocate"', "not an allowed value"),
        ('reboot = "reallocate"', "reboot = true", "not an allowed value"),
        ('fix = "reallocate"', 'fix = "none"', 'needs fix = "reallocate"'),
    ],
)
def test_bad_reboot_value_is_a_clear_exit_2_with_file_and_line(
    old: str, new: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fipswizard.headless.cli import main

    with pytest.raises(RecipeError) as info:
        parse_recipe(TEXT.replace(old, new), "r.toml")
    assert info.value.exit_code == ExitCode.BAD_INPUT
    assert str(info.value).startswith("r.toml:3: key 'reboot': " + problem), str(info.value)
    path = tmp_path / "bad.toml"
    path.write_text(TEXT.replace(old, new))
    assert main(["plan", str(path), "--offline"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:3: key 'reboot'" in err and "Traceback" not in err


# -- apply against the sandbox -----------------------------------------------------------------


def _benchmark() -> ModuleType:
    name = "_guest_cost_benchmark"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "guest_cost.py")
        assert spec is not None and spec.loader is not None
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


def recipe(sandbox: SandboxAzure, reboot: str = "reallocate") -> Recipe:
    vm = sandbox.estate.vms[VM]
    target = RecipeTarget(Target(vm.subscription, vm.resource_group, VM), "auto")
    return Recipe(targets=(target,), fix="reallocate", reboot=reboot)


def sandbox_opts(transport: httpx.AsyncBaseTransport | None = None) -> tuple[SandboxAzure, Options]:
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    opts = Options(arm_endpoint=ARM, settings=FAST, transport=transport or sandbox.transport())
    return sandbox, opts


async def test_apply_boots_once_and_validation_passes_first_time(tmp_path: Path) -> None:
    sandbox, opts = sandbox_opts()
    events: list[Event] = []
    summary = await run_apply(
        recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", events.append
    )
    assert summary.ok, summary.to_text()
    bench = _benchmark()
    assert bench.cost(sandbox.log.entries()).boots == 1
    assert not any(e["path"].endswith("/restart") for e in sandbox.log.entries())
    # No fix started; both validations applied at their first attempt.
    kinds = {e.step_id for e in events if isinstance(e, StepStarted)}
    assert "fix-reallocate" not in kinds, kinds
    applied = [e.step_id for e in events if isinstance(e, StepFinished) and e.status == "applied"]
    assert {"validate-customscript", "validate-vmaccess"} <= set(applied), applied
    vm = sandbox.estate.vms[VM]
    assert vm.fips_flag and vm.cert_package == "fips-140-3" and vm.guest.fips_enabled


@pytest.mark.parametrize("name", sorted(_benchmark().VMS))
async def test_guest_cost_one_boot_row(name: str, tmp_path: Path) -> None:
    costs = await _benchmark().measure(name, tmp_path, reboot="reallocate")
    assert costs["first apply"].boots == 1, costs
    assert costs["re-run"].boots == 0 and costs["re-run"].writes == costs["re-run"].run_commands


async def killed_between_deallocate_and_start(tmp_path: Path) -> tuple[SandboxAzure, Options]:
    sandbox, _ = sandbox_opts()
    killer = KillWhen(
        sandbox.transport(),
        lambda r: r.method == "POST" and r.url.path.endswith("/deallocate"),
    )
    opts = Options(arm_endpoint=ARM, settings=FAST, transport=killer)
    with pytest.raises(Killed):
        await run_apply(recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", print)
    await asyncio.sleep(0.3)  # the sandbox finishes the deallocate it accepted
    sandbox.settle()
    assert sandbox.estate.vms[VM].power_state == "deallocated"
    return sandbox, replace(opts, transport=sandbox.transport())


async def test_kill_between_deallocate_and_start_next_apply_starts_the_vm(tmp_path: Path) -> None:
    sandbox, opts = await killed_between_deallocate_and_start(tmp_path)
    again = await run_apply(recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", print)
    assert again.ok, again.to_text()
    vm = sandbox.estate.vms[VM]
    assert vm.power_state == "running" and vm.guest.agent_ready()
    assert vm.fips_flag and vm.cert_package == "fips-140-3" and vm.guest.fips_enabled
    recovered = [r for r in Journal(tmp_path / "j").records() if r["event"] == "recover"]
    assert [r["step_id"] for r in recovered] == ["ubuntu.reboot"], recovered
    assert "started" in recovered[0]["detail"]


async def test_kill_between_deallocate_and_start_rollback_starts_the_vm(tmp_path: Path) -> None:
    sandbox, opts = await killed_between_deallocate_and_start(tmp_path)
    await run_rollback(tmp_path / "j", opts, HeadlessPrompter(True), print)
    vm = sandbox.estate.vms[VM]
    assert vm.power_state == "running" and vm.guest.agent_ready()
    recovered = [r for r in Journal(tmp_path / "j").records() if r["event"] == "recover"]
    assert [r["step_id"] for r in recovered] == ["ubuntu.reboot"], recovered
    assert "started" in recovered[0]["detail"]
