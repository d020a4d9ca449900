"""Decisions use facts read after the last write that could change them (issue 8 item 2).

RHEL 9.5 with daemon 2.7.0.6, auto-update off and the flag off: the recipe turns auto-update
on and the goal-state agent becomes 2.15.x; validation then fails on the certificate package
made before the flag was set (Microsoft: a new package comes with deallocate + start after
the opt-in, azure-platform.md and the how-to in /work/shared/seeds/000_*.txt), the fix runs,
validation passes. Diagnosing from the plan's agent version (2.7.0.6) would blame "agent too
old" and never run the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.context import Target
from fipswizard.engine.events import Diagnosed, Event, StepFinished, StepOutput, StepStatus
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION, Estate, new_vm
from fipswizard.sandbox.model import FIPS_FEATURE, NEVER, PACKAGE_FIPS, Feature, Subscription
from fipswizard.sandbox.os_images import make_guest
from fipswizard.session import Options, run_apply
from tests.inproc import FAST

NAME = "rhel95-stale"


def estate() -> Estate:
    out = Estate()
    sub = out.add_subscription(Subscription(DEMO_SUBSCRIPTION, "fresh-facts"))
    sub.add_feature(Feature(FIPS_FEATURE, "Registered", registered_at=NEVER))
    guest = make_guest("rhel-95", daemon="2.7.0.6", autoupdate=False)  # goal state 2.7.0.6 too
    out.add_vm(new_vm(DEMO_SUBSCRIPTION, DEMO_GROUP, NAME, "westus2", "rhel-95", guest, "stale"))
    return out


async def test_one_apply_ends_compliant_with_the_reallocate_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "token-for-fresh-facts")
    sandbox = SandboxAzure(estate(), op_seconds=0.05, registration_seconds=0.1)
    opts = Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )
    recipe = Recipe(
        targets=(RecipeTarget(Target(DEMO_SUBSCRIPTION, DEMO_GROUP, NAME), "auto"),),
        fix="reallocate",
    )
    vm = sandbox.estate.vms[NAME]
    assert vm.guest.goal_state_version == "2.7.0.6" and not vm.guest.autoupdate
    events: list[Event] = []
    done = await run_apply(recipe, opts, HeadlessPrompter(True), tmp_path / "j", events.append)
    assert done.ok, done.to_text()

    finished = [(e.step_id, e.status) for e in events if isinstance(e, StepFinished)]
    order = [step for step, status in finished if status is StepStatus.APPLIED]
    assert order.index("rhel9.agent-workaround") < order.index("rhel9.reboot")
    assert "agent.auto-update" in order and order.index("agent.auto-update") < order.index(
        "fix-reallocate"
    )
    assert order.index("fix-reallocate") < order.index("validate-customscript")
    said = [e.text for e in events if isinstance(e, StepOutput)]
    diagnosis = [e for e in events if isinstance(e, Diagnosed)]
    assert len(diagnosis) == 1 and "certificate package" in diagnosis[0].explanation
    assert diagnosis[0].fix_step == "fix-reallocate"
    assert "predates" not in " ".join(
        said + [d.explanation for d in diagnosis]
    )  # never "agent too old" from the plan's 2.7.0.6
    assert vm.guest.goal_state_version.startswith("2.15") and vm.guest.autoupdate
    assert vm.fips_flag and vm.cert_package == PACKAGE_FIPS and vm.power_state == "running"
    assert vm.guest.users == {}
