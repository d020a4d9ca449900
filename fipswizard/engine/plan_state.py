"""Read the current state of each ARM step for the preview (GETs only: no write is sent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from fipswizard.azure.arm_step import ArmStep
from fipswizard.context import Context, Settings
from fipswizard.engine.plan import Plan
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.errors import FipsWizardError
from fipswizard.recipe import DEFAULT_READS

if TYPE_CHECKING:
    from fipswizard.azure.arm import ArmClient

GUEST_STATE = "checked at run time (inside the guest)"


class StepState(str):
    """A step's state read now: the line the preview prints ("done, will skip: ...",
    "will run: ...", "unknown: ...") that also carries the check's typed result, so readers
    (the preflight verdicts) use `done` and `facts` instead of parsing the line."""

    done: bool | None  # None: not known (the read failed, or checked inside the guest)
    facts: Mapping[str, Any]

    def __new__(
        cls, text: str, done: bool | None = None, facts: Mapping[str, Any] | None = None
    ) -> StepState:
        state = super().__new__(cls, text)
        state.done, state.facts = done, dict(facts or {})
        return state


async def read_states(plan: Plan, arm: ArmClient, settings: Settings) -> dict[tuple[str, str], str]:
    """(target, step id) -> its `StepState`, for steps whose check is a GET."""
    import asyncio

    ctx = Context(prompter=HeadlessPrompter(False), settings=settings, arm=arm)
    gate = asyncio.Semaphore(plan.recipe.concurrency or DEFAULT_READS)
    states: dict[tuple[str, str], str] = {}

    async def one(key: str, step: ArmStep) -> None:
        async with gate:
            try:
                out = await step.check(ctx)
            except FipsWizardError as err:
                states[(key, step.id)] = StepState(f"unknown: {err.headline().splitlines()[0]}")
                return
        text = ("done, will skip: " if out.done else "will run: ") + out.detail
        states[(key, step.id)] = StepState(text, out.done, out.facts)

    jobs = [one(u.key, s) for u in plan.units for s in u.steps if isinstance(s, ArmStep)]
    await asyncio.gather(*jobs)
    for u in plan.units:
        for s in u.steps:
            states.setdefault((u.key, s.id), StepState(GUEST_STATE))
    return states
