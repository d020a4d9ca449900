"""The one gate before the first write (issue 7.1): read phase, one approval, write phase."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from fipswizard.context import Context, Target
from fipswizard.engine.approvals import ApprovalItem
from fipswizard.engine.events import Event, StepFinished, StepOutput, StepStatus, TargetOutcome
from fipswizard.engine.journal import Journal
from fipswizard.engine.plan import Plan, Unit
from fipswizard.engine.prompter import HeadlessPrompter, StepQuestion
from fipswizard.engine.run import Engine
from fipswizard.engine.steps import Outcome, Risk, Step
from fipswizard.errors import StepError
from fipswizard.recipe import Recipe, RecipeTarget
from tests.test_engine import SUB, WORLD, Fix, Flip


class ReadOnly(Flip):
    kind = "test-read"

    async def check(self, ctx: Context) -> Outcome:
        WORLD.setdefault("reads", []).append(self.params["key"])
        if WORLD.get("unreadable") == self.params["key"]:
            raise StepError("agent never Ready", "start the VM")
        return Outcome(True, "ok")


class Recording:
    """A prompter that records the gate's question and never answers mid-run."""

    def __init__(self, answer: set[tuple[str, str]] | None = None) -> None:
        self.asked: list[list[ApprovalItem]] = []
        self.writes_when_asked: list[str] | None = None
        self.answer = answer

    async def approve(self, items: Sequence[ApprovalItem]) -> set[tuple[str, str]]:
        self.asked.append(list(items))
        self.writes_when_asked = list(WORLD.get("writes", []))
        return {i.key for i in items} if self.answer is None else self.answer


def vm_plan(vms: list[str], *, fix: bool = True, reboot: bool = True) -> Plan:
    targets = tuple(RecipeTarget(Target(SUB, "rg", vm), "none") for vm in vms)
    units = []
    for rt in targets:
        key, vm = rt.target.key, rt.target.vm
        steps: list[Step] = [
            ReadOnly(key, "agent ready", Risk.READ_ONLY, {"key": vm, "id": "agent"}),
            Flip(key, "flag", Risk.REVERSIBLE, {"key": f"{vm}-flag", "id": "flag"}),
        ]
        if reboot:
            steps.append(Flip(key, "reboot", Risk.DISRUPTIVE, {"key": f"{vm}-boot", "id": "boot"}))
        steps.append(Flip(key, "validate", Risk.REVERSIBLE, {"key": vm, "id": "validate"}))
        unit = Unit(key, vm, steps, after="")
        if fix:
            unit.fixes["validate"] = Fix(
                key, "reallocate", Risk.DISRUPTIVE, {"key": "fix", "id": "fix"}
            )
        units.append(unit)
    return Plan(Recipe(targets=targets), units, {}, "http://127.0.0.1:1", False)


async def run(plan: Plan, journal: Journal, prompter: Any) -> tuple[Engine, list[Event]]:
    engine = Engine(
        plan, Context(prompter=prompter), journal, run_id=journal.run_id, correlation_id="c"
    )
    return engine, [e async for e in engine.run()]


@pytest.fixture(autouse=True)
def world() -> None:
    WORLD.clear()


async def test_one_question_before_any_write_lists_reboots_and_fixes(tmp_path: Path) -> None:
    prompter = Recording()
    _, events = await run(vm_plan(["a", "b"]), Journal(tmp_path / "j", "r"), prompter)
    assert len(prompter.asked) == 1 and prompter.writes_when_asked == []
    got = {(i.target.rsplit("/", 1)[1], i.step_id, i.conditional) for i in prompter.asked[0]}
    assert got == {
        ("a", "boot", False),
        ("a", "fix", True),
        ("b", "boot", False),
        ("b", "fix", True),
    }
    assert events[-1].ok and sorted(WORLD["writes"]) == sorted(
        ["a-flag", "a-boot", "a", "b-flag", "b-boot", "b"]
    )


async def test_refused_gate_writes_nothing_and_says_what_per_vm(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j", "r")
    engine, events = await run(vm_plan(["a", "b"]), journal, HeadlessPrompter(False))
    assert "writes" not in WORLD
    assert set(events[-1].outcomes.values()) == {TargetOutcome.NEEDS_CONFIRMATION}
    message = engine.gate_refused or ""
    assert (
        message.count("reboot [test-flip]") == 2 and "reallocate [test-fix, if needed]" in message
    )
    assert "fipswizard apply RECIPE --yes" in message and "fipswizard plan RECIPE" in message
    assert "gate-refused" in journal.path.read_text() and journal.begun() == []


async def test_compliant_estate_needs_no_approval_and_sends_no_write(tmp_path: Path) -> None:
    plan = vm_plan(["a"])
    await run(plan, Journal(tmp_path / "j", "r1"), HeadlessPrompter(True))
    WORLD["writes"] = []
    prompter = Recording()
    _, events = await run(plan, Journal(tmp_path / "j", "r2"), prompter)
    assert prompter.asked == [[]] and WORLD["writes"] == []
    assert events[-1].ok
    _, events = await run(plan, Journal(tmp_path / "j", "r3"), HeadlessPrompter(False))
    assert events[-1].ok  # without --yes: still exit 0, nothing to approve


async def test_done_prefix_is_not_asked_again(tmp_path: Path) -> None:
    WORLD.update({"a-flag": True, "a-boot": True})  # an earlier run got as far as the reboot
    prompter = Recording()
    await run(vm_plan(["a"]), Journal(tmp_path / "j", "r"), prompter)
    assert [(i.step_id, i.conditional) for i in prompter.asked[0]] == [("fix", True)]


async def test_unit_failing_in_read_phase_needs_no_approval(tmp_path: Path) -> None:
    WORLD["unreadable"] = "b"
    prompter = Recording()
    _, events = await run(vm_plan(["a", "b"]), Journal(tmp_path / "j", "r"), prompter)
    assert {i.target.rsplit("/", 1)[1] for i in prompter.asked[0]} == {"a"}
    outcomes = {k.rsplit("/", 1)[1]: v for k, v in events[-1].outcomes.items()}
    assert outcomes == {"a": TargetOutcome.COMPLIANT, "b": TargetOutcome.FAILED}


async def test_fix_not_approved_is_declined_never_asked(tmp_path: Path) -> None:
    WORLD["needs_fix"] = "a"
    plan = vm_plan(["a"])
    key = plan.units[0].key
    prompter = Recording(answer={(key, "boot")})
    journal = Journal(tmp_path / "j", "r")
    _, events = await run(plan, journal, prompter)
    finished = {e.step_id: e.status for e in events if isinstance(e, StepFinished)}
    assert finished["fix"] is StepStatus.DECLINED and "fix" not in WORLD
    assert list(events[-1].outcomes.values()) == [TargetOutcome.DECLINED]
    assert '"step-declined"' in journal.path.read_text()


async def test_recorded_decline_wins_over_yes(tmp_path: Path) -> None:
    WORLD["needs_fix"] = "a"
    plan = vm_plan(["a"])
    prompter = HeadlessPrompter(True, declined={plan.units[0].key: ("test-fix",)})
    _, events = await run(plan, Journal(tmp_path / "j", "r"), prompter)
    assert "fix" not in WORLD and WORLD["a-boot"] is True
    assert list(events[-1].outcomes.values()) == [TargetOutcome.DECLINED]


async def test_recover_runs_first_for_unfinished_steps(tmp_path: Path) -> None:
    class Recoverable(Fix):
        kind = "test-recoverable"

        async def recover(self, ctx: Context, undo: dict[str, Any]) -> str | None:
            WORLD["recovered"] = (undo, list(WORLD.get("writes", [])))
            return "started the VM the earlier run deallocated"

    plan = vm_plan(["a"], fix=False)
    unit = plan.units[0]
    unit.fixes["validate"] = Recoverable(
        unit.key, "reallocate", Risk.DISRUPTIVE, {"key": "fix", "id": "fix"}
    )
    journal = Journal(tmp_path / "j", "old")
    record = unit.fixes["validate"].record()
    journal.append("step-begin", target=unit.key, step_id="fix", step=record, undo={"power": "on"})
    _, events = await run(plan, Journal(tmp_path / "j", "new"), HeadlessPrompter(True))
    assert WORLD["recovered"] == ({"power": "on"}, [])  # before any write of this run
    assert any(isinstance(e, StepOutput) and "recovered" in e.text for e in events)
    assert '"recover"' in journal.path.read_text()


async def test_cancel_lets_a_disruptive_step_finish(tmp_path: Path) -> None:
    class SlowReboot(Flip):
        kind = "test-slow-reboot"

        async def apply(self, ctx: Context, before: Outcome) -> None:
            WORLD["rebooting"] = True
            await asyncio.sleep(0.2)
            WORLD["rebooted"] = True

    plan = vm_plan(["a"], fix=False, reboot=False)
    unit = plan.units[0]
    unit.steps.insert(2, SlowReboot(unit.key, "reboot", Risk.DISRUPTIVE, {"key": "x", "id": "b"}))
    seen: list[Event] = []
    engine = Engine(
        plan,
        Context(prompter=HeadlessPrompter(True)),
        Journal(tmp_path / "j", "r"),
        run_id="r",
        correlation_id="c",
        on_interrupt=seen.append,
    )

    async def consume() -> None:
        async for _ in engine.run():
            pass

    task = asyncio.create_task(consume())
    while not WORLD.get("rebooting"):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert WORLD.get("rebooted") is True  # finished, not abandoned mid-way
    assert "validate" not in WORLD.get("writes", [])  # and nothing after it started
    assert any("letting 'reboot' finish" in getattr(e, "text", "") for e in seen)
    assert Journal(tmp_path / "j").unfinished() == {(unit.key, "b")}


async def test_ask_each_asks_again_only_for_what_the_gate_approved(tmp_path: Path) -> None:
    class AskEach(Recording):
        ask_each = True

        async def ask_step(self, question: StepQuestion) -> bool:
            assert (question.target, question.step_id) == (plan.units[0].key, "boot")
            self.questions = [*getattr(self, "questions", []), question.question]
            return False  # the operator changes their mind at the reboot

    plan = vm_plan(["a"], fix=False)
    prompter = AskEach()
    _, events = await run(plan, Journal(tmp_path / "j", "r"), prompter)
    assert prompter.questions == ["reboot on " + plan.units[0].key + " (disruptive)"]
    assert WORLD["writes"] == ["a-flag"]  # stopped before the reboot
    assert list(events[-1].outcomes.values()) == [TargetOutcome.DECLINED]
