"""A prompter that answers each item alone (headless --yes): each VM is written as soon as its
own read ends; any other prompter still gets one question after every read (issue 9.3)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fipswizard.context import Context
from fipswizard.engine.approvals import ApprovalItem
from fipswizard.engine.events import TargetOutcome
from fipswizard.engine.journal import Journal
from fipswizard.engine.plan import Unit
from fipswizard.engine.prompter import AnswersAlone, HeadlessPrompter
from fipswizard.engine.steps import Outcome, Risk
from fipswizard.errors import ConfirmationNeeded
from tests.test_engine import SUB, WORLD, Flip
from tests.test_gate import ReadOnly, Recording, run, vm_plan


class SlowRead(ReadOnly):
    """The slowest VM's read: notes what was written by the time it ends."""

    kind = "test-slow-read"

    async def check(self, ctx: Context) -> Outcome:
        await asyncio.sleep(0.3)
        WORLD["writes_when_slow_read_ended"] = list(WORLD.get("writes", []))
        return await super().check(ctx)


class Counted(Flip):
    kind = "test-counted"

    async def check(self, ctx: Context) -> Outcome:
        WORLD["checks"] = WORLD.get("checks", 0) + 1
        return await super().check(ctx)


def slow_plan(reboot: bool = False) -> Any:
    plan = vm_plan(["fast", "slow"], fix=False, reboot=reboot)
    slow = plan.units[1]
    slow.steps[0] = SlowRead(
        slow.key, "agent ready", Risk.READ_ONLY, {"key": "slow", "id": "agent"}
    )
    return plan


@pytest.fixture(autouse=True)
def world() -> None:
    WORLD.clear()


def test_only_yes_answers_alone() -> None:
    assert isinstance(HeadlessPrompter(True), AnswersAlone) and HeadlessPrompter(True).answers_alone
    assert not HeadlessPrompter(False).answers_alone
    assert not isinstance(Recording(), AnswersAlone)  # the TUI's kind: one list, one answer


async def test_with_yes_a_fast_vm_is_written_before_the_slowest_read_ends(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", "r")
    _, events = await run(slow_plan(), journal, HeadlessPrompter(True))
    assert "fast-flag" in WORLD["writes_when_slow_read_ended"]
    assert events[-1].ok and sorted(WORLD["writes"]) == ["fast", "fast-flag", "slow", "slow-flag"]
    gate = [r for r in journal.records() if r["event"] == "gate-approved"]
    first_write = next(i for i, r in enumerate(journal.records()) if r["event"] == "step-begin")
    assert len(gate) == 1 and journal.records().index(gate[0]) < first_write


async def test_without_yes_nothing_is_written_however_fast_a_read(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", "r")
    engine, events = await run(slow_plan(reboot=True), journal, HeadlessPrompter(False))
    assert "writes" not in WORLD and journal.begun() == []
    assert set(events[-1].outcomes.values()) == {TargetOutcome.NEEDS_CONFIRMATION}
    assert (engine.gate_refused or "").count("reboot [test-flip]") == 2


async def test_one_list_one_answer_prompter_still_waits_for_every_read(tmp_path: Path) -> None:
    prompter = Recording()
    _, events = await run(slow_plan(), Journal(tmp_path / "j", "r"), prompter)
    assert len(prompter.asked) == 1 and prompter.writes_when_asked == []
    assert WORLD["writes_when_slow_read_ended"] == [] and events[-1].ok


async def test_with_yes_a_writing_step_is_read_once_before_its_write(tmp_path: Path) -> None:
    plan = vm_plan(["a"], fix=False, reboot=False)
    unit = plan.units[0]
    unit.steps[1] = Counted(unit.key, "flag", Risk.REVERSIBLE, {"key": "a-flag", "id": "flag"})
    await run(plan, Journal(tmp_path / "j", "r1"), HeadlessPrompter(True))
    assert WORLD["checks"] == 2  # its check (the write is built from it), then its verify
    WORLD.clear()
    await run(plan, Journal(tmp_path / "j", "r2"), Recording())
    assert WORLD["checks"] == 3  # read phase, then again after the gate, then verify


def with_subscription(fail: bool) -> Any:
    plan = vm_plan(["a"], fix=False, reboot=False)
    sub = Unit(f"/subscriptions/{SUB}", "subscription", [])
    sub.steps = [Flip(sub.key, "register", Risk.REVERSIBLE, {"key": "feature", "id": "feature"})]
    plan.units[0].after = sub.key
    plan.units.insert(0, sub)
    if fail:
        WORLD["fail"] = "feature"
    return plan


async def test_with_yes_a_vm_waits_for_its_subscription_unit(tmp_path: Path) -> None:
    _, events = await run(
        with_subscription(False), Journal(tmp_path / "j", "r"), HeadlessPrompter(True)
    )
    assert WORLD["writes"][0] == "feature" and events[-1].ok
    WORLD.clear()
    _, events = await run(
        with_subscription(True), Journal(tmp_path / "j", "r2"), HeadlessPrompter(True)
    )
    outcomes = list(events[-1].outcomes.values())
    assert outcomes == [TargetOutcome.FAILED, TargetOutcome.BLOCKED]
    assert WORLD["writes"] == ["feature"] and "reads" not in WORLD  # the VM was not even read


async def test_a_prompter_that_breaks_its_word_still_writes_nothing(tmp_path: Path) -> None:
    class Refuses(Recording):
        answers_alone = True

        async def approve(self, items: Sequence[ApprovalItem]) -> set[tuple[str, str]]:
            self.asked.append(list(items))
            raise ConfirmationNeeded("no")

    prompter = Refuses()
    engine, events = await run(vm_plan(["a"]), Journal(tmp_path / "j", "r"), prompter)
    assert "writes" not in WORLD and engine.gate_refused == "no"
    assert len(prompter.asked) == 2  # from the plan, then from the reads: the usual way
    assert list(events[-1].outcomes.values()) == [TargetOutcome.NEEDS_CONFIRMATION]


async def test_with_yes_vms_take_their_places_in_turn_by_subscription(tmp_path: Path) -> None:
    from dataclasses import replace

    from fipswizard.context import Target
    from fipswizard.engine.run import Engine
    from fipswizard.recipe import RecipeTarget

    other = SUB.replace("1", "9")
    plan = vm_plan(["a1", "a2", "a3", "b1", "b2", "b3"], fix=False, reboot=False)
    targets = tuple(
        RecipeTarget(Target(other if t.target.vm[0] == "b" else SUB, "rg", t.target.vm), "none")
        for t in plan.recipe.targets
    )
    plan = replace(plan, recipe=replace(plan.recipe, targets=targets))
    for unit, rt in zip(plan.units, targets, strict=True):
        unit.key = rt.target.key
    journal = Journal(tmp_path / "j", "r")
    engine = Engine(
        plan,
        Context(prompter=HeadlessPrompter(True)),
        journal,
        run_id="r",
        correlation_id="c",
        concurrency=1,
    )
    events = [e async for e in engine.run()]
    assert events[-1].ok and WORLD["reads"] == ["a1", "b1", "a2", "b2", "a3", "b3"]
