"""Issue 11: validation steps and fixes are recognised by a role their class declares
(Step.role, carried on StepStarted), never by the spelling of their step id."""

from __future__ import annotations

from pathlib import Path

import pytest

from fipswizard.azure.steps_validate import (
    CustomScriptValidation,
    KeyVaultFix,
    ReallocateFix,
    VmAccessValidation,
)
from fipswizard.context import Context, Target
from fipswizard.engine.events import StepRole
from fipswizard.engine.journal import Journal
from fipswizard.engine.plan import Plan, Unit
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.report import RunReport
from fipswizard.engine.run import Engine
from fipswizard.engine.steps import Risk, Step
from fipswizard.recipe import Recipe, RecipeTarget
from tests.test_engine import SUB, WORLD, Fix, Flip


class Probe(Flip):
    """A validation whose id says nothing about validation."""

    kind = "test-probe"
    role = StepRole.VALIDATION


class Repair(Fix):
    kind = "test-repair"
    role = StepRole.FIX


@pytest.fixture(autouse=True)
def world() -> None:
    WORLD.clear()


def test_the_products_validation_steps_and_fixes_declare_their_role() -> None:
    assert CustomScriptValidation.role is VmAccessValidation.role is StepRole.VALIDATION
    assert ReallocateFix.role is KeyVaultFix.role is StepRole.FIX
    assert Step.role is Flip.role is StepRole.CHANGE


async def test_the_run_model_groups_validation_by_role_not_by_id(tmp_path: Path) -> None:
    target = Target(SUB, "rg", "a")
    key = target.key
    steps: list[Step] = [
        # spelled like a validation but is a change: not in the validation phase
        Flip(key, "look-alike", Risk.REVERSIBLE, {"key": "l", "id": "validate-lookalike"}),
        Probe(key, "probe", Risk.REVERSIBLE, {"key": "a", "id": "probe"}),
    ]
    unit = Unit(key, "a", steps, after="")
    unit.fixes["probe"] = Repair(key, "repair", Risk.REVERSIBLE, {"key": "r", "id": "repair"})
    plan = Plan(Recipe(targets=(RecipeTarget(target, "none"),)), [unit], {}, "http://x", False)
    WORLD["needs_fix"] = "a"
    journal = Journal(tmp_path / "j", "r")
    ctx = Context(prompter=HeadlessPrompter(True))
    engine = Engine(plan, ctx, journal, run_id="r", correlation_id="c")
    report = RunReport()
    async for event in engine.run():
        report.add(event)
    t = report.targets[key]
    assert [s.step_id for s in t.validation()] == ["probe", "repair"]
    assert [s.step_id for s in t.validation() if s.is_fix] == ["repair"]
    assert not t.steps["validate-lookalike"].is_validation
