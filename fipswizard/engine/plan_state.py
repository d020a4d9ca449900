"""Read the current state of each ARM step for the preview (GETs only: no write is sent)."""

from __future__ import annotations

import asyncio

from fipswizard.azure.arm import ArmClient
from fipswizard.azure.arm_step import ArmStep
from fipswizard.context import Context, Settings
from fipswizard.engine.plan import Plan
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.errors import FipsWizardError


async def read_states(plan: Plan, arm: ArmClient, settings: Settings) -> dict[tuple[str, str], str]:
    """(target, step id) -> "done: ..." or "will run: ..." for steps whose check is a GET."""
    ctx = Context(prompter=HeadlessPrompter(False), settings=settings, arm=arm)
    gate = asyncio.Semaphore(plan.recipe.concurrency)
    states: dict[tuple[str, str], str] = {}

    async def one(key: str, step: ArmStep) -> None:
        async with gate:
            try:
                out = await step.check(ctx)
            except FipsWizardError as err:
                states[(key, step.id)] = f"unknown: {str(err).splitlines()[0]}"
                return
        states[(key, step.id)] = ("done, will skip: " if out.done else "will run: ") + out.detail

    jobs = [one(u.key, s) for u in plan.units for s in u.steps if isinstance(s, ArmStep)]
    await asyncio.gather(*jobs)
    for u in plan.units:
        for s in u.steps:
            states.setdefault((u.key, s.id), "checked at run time (inside the guest)")
    return states
