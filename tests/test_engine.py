"""Engine semantics with in-memory steps: skip what holds, journal writes, isolate failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fipswizard.azure.steps_validate import FixNeeded
from fipswizard.context import Context, Target
from fipswizard.engine.events import RunFinished, StepFinished, StepStatus, TargetOutcome
from fipswizard.engine.journal import Journal
from fipswizard.engine.plan import Plan, Unit
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.rollback import approval_items, pending_undos, run_rollback
from fipswizard.engine.run import Engine
from fipswizard.engine.steps import Action, Outcome, Risk, Step
from fipswizard.errors import StepError
from fipswizard.recipe import Recipe, RecipeTarget

WORLD: dict[str, Any] = {}
SUB = "11111111-2222-3333-4444-555555555555"


class Flip(Step):
    """Sets WORLD[key] = True; fails when WORLD['fail'] names the key."""

    kind = "test-flip"

    def actions(self) -> list[Action]:
        return []

    async def check(self, ctx: Context) -> Outcome:
        key = self.params["key"]
        return Outcome(bool(WORLD.get(key)), key, {"previous": WORLD.get(key)})

    async def apply(self, ctx: Context, before: Outcome) -> None:
        WORLD.setdefault("writes", []).append(self.params["key"])
        if WORLD.get("fail") == self.params["key"]:
            raise StepError("boom", "do something")
        if WORLD.get("needs_fix") == self.params["key"] and not WORLD.get("fixed"):
            raise FixNeeded("old package", "deallocate", "old-certificate-package", "reallocate")
        WORLD[self.params["key"]] = True

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        WORLD[self.params["key"]] = undo.get("previous")
        return "restored"


class Fix(Flip):
    kind = "test-fix"

    async def apply(self, ctx: Context, before: Outcome) -> None:
        WORLD["fixed"] = WORLD["fix"] = True


def make_plan(vms: list[str], *, risk: Risk = Risk.REVERSIBLE, with_fix: bool = False) -> Plan:
    targets = tuple(RecipeTarget(Target(SUB, "rg", vm), "none") for vm in vms)
    recipe = Recipe(targets=targets)
    units = []
    for rt in targets:
        key = rt.target.key
        steps: list[Step] = [
            Flip(key, f"flip {rt.target.vm}", risk, {"key": rt.target.vm, "id": "flip"})
        ]
        unit = Unit(key, rt.target.vm, steps, after="")
        if with_fix:
            unit.fixes["flip"] = Fix(key, "fix", Risk.DISRUPTIVE, {"key": "fix", "id": "fix"})
        units.append(unit)
    return Plan(recipe, units, {}, "http://127.0.0.1:1", False)


async def run(plan: Plan, journal: Journal, yes: bool = True) -> list[Any]:
    ctx = Context(prompter=HeadlessPrompter(yes))
    engine = Engine(plan, ctx, journal, run_id=journal.run_id, correlation_id="c")
    return [e async for e in engine.run()]


@pytest.fixture(autouse=True)
def world() -> None:
    WORLD.clear()


async def test_second_run_writes_nothing(tmp_path: Path) -> None:
    plan = make_plan(["a", "b"])
    events = await run(plan, Journal(tmp_path / "j", "r1"))
    assert events[-1].ok and sorted(WORLD["writes"]) == ["a", "b"]
    events = await run(plan, Journal(tmp_path / "j", "r2"))
    assert events[-1].ok and sorted(WORLD["writes"]) == ["a", "b"]
    assert {e.status for e in events if isinstance(e, StepFinished)} == {StepStatus.SKIPPED}


async def test_one_failure_does_not_stop_others(tmp_path: Path) -> None:
    WORLD["fail"] = "b"
    events = await run(make_plan(["a", "b", "c"]), Journal(tmp_path / "j", "r"))
    final = events[-1]
    assert isinstance(final, RunFinished) and not final.ok
    outcomes = {k.rsplit("/", 1)[1]: v for k, v in final.outcomes.items()}
    assert outcomes == {
        "a": TargetOutcome.COMPLIANT,
        "b": TargetOutcome.FAILED,
        "c": TargetOutcome.COMPLIANT,
    }
    failed = [e for e in events if isinstance(e, StepFinished) and e.status is StepStatus.FAILED]
    assert failed[0].advice == "do something"


async def test_disruptive_needs_confirmation_headless(tmp_path: Path) -> None:
    events = await run(
        make_plan(["a"], risk=Risk.DISRUPTIVE), Journal(tmp_path / "j", "r"), yes=False
    )
    assert list(events[-1].outcomes.values()) == [TargetOutcome.NEEDS_CONFIRMATION]
    assert "writes" not in WORLD


async def test_fix_runs_then_step_retried(tmp_path: Path) -> None:
    WORLD["needs_fix"] = "a"
    journal = Journal(tmp_path / "j", "r")
    events = await run(make_plan(["a"], with_fix=True), journal)
    assert events[-1].ok and WORLD["fixed"] is True
    assert [b.step_id for b in journal.begun()] == ["flip", "fix"]


async def test_journal_and_rollback(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", "r")
    await run(make_plan(["a", "b"]), journal)
    undos = pending_undos(journal)
    assert len(undos) == 2
    ctx = Context(prompter=HeadlessPrompter(True))
    approved = {i.key for i in approval_items(undos, [])}
    rb = Journal(tmp_path / "j", "rb")
    events = [e async for e in run_rollback(undos, rb, ctx, cloud="AzureCloud", approved=approved)]
    assert events[-1].ok and WORLD["a"] is None and WORLD["b"] is None
    assert pending_undos(journal) == []  # rolling back twice does nothing


async def test_cancelled_write_stays_unfinished_for_resume(tmp_path: Path) -> None:
    import asyncio

    class Slow(Flip):
        kind = "test-slow"

        async def apply(self, ctx: Context, before: Outcome) -> None:
            await asyncio.sleep(30)

    target = RecipeTarget(Target(SUB, "rg", "a"), "none")
    unit = Unit(
        target.target.key,
        "a",
        [Slow(target.target.key, "slow", Risk.REVERSIBLE, {"key": "a", "id": "slow"})],
        after="",
    )
    plan = Plan(Recipe(targets=(target,)), [unit], {}, "http://127.0.0.1:1", False)
    journal = Journal(tmp_path / "j", "r")
    task = asyncio.create_task(run(plan, journal))
    while not journal.begun():
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert Journal(tmp_path / "j").unfinished() == {(target.target.key, "slow")}
    assert "step-interrupted" in (tmp_path / "j").read_text()


async def test_failed_fix_is_reported_and_fails_the_target(tmp_path: Path) -> None:
    WORLD["needs_fix"] = "a"

    class BadFix(Fix):
        kind = "test-badfix"

        async def apply(self, ctx: Context, before: Outcome) -> None:
            raise StepError("deallocate failed", "try later")

    plan = make_plan(["a"])
    unit = plan.units[0]
    unit.fixes["flip"] = BadFix(unit.key, "fix", Risk.REVERSIBLE, {"key": "fix", "id": "fix"})
    events = await run(plan, Journal(tmp_path / "j", "r"))
    finished = {e.step_id: e.status for e in events if isinstance(e, StepFinished)}
    assert finished == {"fix": StepStatus.FAILED, "flip": StepStatus.FAILED}
    assert list(events[-1].outcomes.values()) == [TargetOutcome.FAILED]


async def test_an_applied_step_carries_its_check_state_from_before_the_write(
    tmp_path: Path,
) -> None:
    """The JSON summary's per-step `before` comes from the engine's event, not the journal."""
    events = await run(make_plan(["a"]), Journal(tmp_path / "j", "r1"))
    applied = [e for e in events if isinstance(e, StepFinished) and e.status is StepStatus.APPLIED]
    assert [e.before for e in applied] == ["a"]  # Flip's check detail: its key, not yet set
