"""The engine: runs a plan and yields typed events; both front ends consume the same stream.

Subscription units (the feature opt-in) run first; then VM units run concurrently under a
bound. One failing VM does not stop the others. Every write is journalled before and after.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fipswizard.azure.steps_validate import FixNeeded
from fipswizard.azure.steps_vm import RegionRejected
from fipswizard.context import Context, ScriptRunner, Target
from fipswizard.errors import AuthError, ConfirmationNeeded, FipsWizardError
from fipswizard.events import (
    Event,
    RunFinished,
    RunStarted,
    StepFinished,
    StepOutput,
    StepStarted,
    StepStatus,
    TargetFinished,
    TargetOutcome,
)
from fipswizard.journal import Journal
from fipswizard.plan import Plan, Unit
from fipswizard.secrets import redact
from fipswizard.steps import Outcome, Step

log = logging.getLogger("fipswizard.engine")
RunnerFactory = Callable[[Target], ScriptRunner | None]


@dataclass
class _Failure(Exception):
    outcome: TargetOutcome
    detail: str


class Engine:
    def __init__(
        self,
        plan: Plan,
        ctx: Context,
        journal: Journal,
        *,
        run_id: str,
        correlation_id: str,
        concurrency: int | None = None,
        runner_factory: RunnerFactory | None = None,
    ) -> None:
        self.plan, self.ctx, self.journal = plan, ctx, journal
        self.run_id, self.correlation_id = run_id, correlation_id
        self.concurrency = concurrency or plan.recipe.concurrency
        self.runner_factory = runner_factory
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._unfinished = journal.unfinished()
        self._targets = {rt.target.key: rt.target for rt in plan.recipe.targets}

    def emit(self, event: Event) -> None:
        self._queue.put_nowait(event)

    async def run(self) -> AsyncIterator[Event]:
        task = asyncio.create_task(self._run_all())
        try:
            while (event := await self._queue.get()) is not None:
                yield event
        finally:
            if not task.done():
                task.cancel()
        await task

    async def _run_all(self) -> None:
        try:
            keys = tuple(u.key for u in self.plan.units)
            self.journal.append(
                "run-start",
                correlation_id=self.correlation_id,
                recipe=self.plan.recipe.path,
                targets=list(keys),
                resumed=sorted(f"{t} {s}" for t, s in self._unfinished),
            )
            self.emit(RunStarted("", self.run_id, self.correlation_id, keys))
            results: dict[str, TargetOutcome] = {}
            subs = self.plan.subscription_units
            for unit, outcome in zip(
                subs, await asyncio.gather(*map(self._unit, subs)), strict=True
            ):
                results[unit.key] = outcome
            gate = asyncio.Semaphore(self.concurrency)

            async def bounded(unit: Unit) -> TargetOutcome:
                blocker = results.get(unit.after or "")
                if unit.after and blocker is not TargetOutcome.COMPLIANT:
                    detail = f"blocked: {unit.after} ended {blocker}"
                    self.emit(TargetFinished(unit.key, TargetOutcome.BLOCKED, detail))
                    return TargetOutcome.BLOCKED
                async with gate:
                    return await self._unit(unit)

            vms = self.plan.vm_units
            for unit, outcome in zip(vms, await asyncio.gather(*map(bounded, vms)), strict=True):
                results[unit.key] = outcome
            self.journal.append("run-end", outcomes={k: str(v) for k, v in results.items()})
            self.emit(RunFinished("", results))
        finally:
            self._queue.put_nowait(None)

    def _context(self, unit: Unit) -> Context:
        target = self._targets.get(unit.key)
        runner = self.runner_factory(target) if (self.runner_factory and target) else None
        return self.ctx.bind(target=target, runner=runner)

    async def _unit(self, unit: Unit) -> TargetOutcome:
        ctx = self._context(unit)
        try:
            for step in unit.steps:
                await self._step(ctx, unit, step)
        except _Failure as failure:
            self.emit(TargetFinished(unit.key, failure.outcome, failure.detail))
            return failure.outcome
        self.emit(TargetFinished(unit.key, TargetOutcome.COMPLIANT, "every step holds"))
        return TargetOutcome.COMPLIANT

    async def _step(self, ctx: Context, unit: Unit, step: Step) -> None:
        def progress(text: str) -> None:
            self.emit(StepOutput(unit.key, step.id, redact(text)))

        ctx = ctx.bind(progress=progress)
        self.emit(StepStarted(unit.key, step.id, step.title, str(step.risk)))
        try:
            before = await step.check(ctx)
            forced = (
                getattr(step, "resume_incomplete", False)
                and (unit.key, step.id) in self._unfinished
            )
            if before.done and not forced:
                if (unit.key, step.id) in self._unfinished:
                    self.journal.append("step-skip", target=unit.key, step_id=step.id)
                self.emit(StepFinished(unit.key, step.id, StepStatus.SKIPPED, before.detail))
                return
            await self._write(ctx, unit, step, before)
        except _Failure:
            raise
        except ConfirmationNeeded as err:
            self._fail(unit, step, StepStatus.FAILED, err, TargetOutcome.NEEDS_CONFIRMATION)
        except RegionRejected as err:
            self._fail(unit, step, StepStatus.FAILED, err, TargetOutcome.REGION_NOT_SUPPORTED)
        except AuthError as err:
            self._fail(unit, step, StepStatus.FAILED, err, TargetOutcome.AUTH_FAILED)
        except FipsWizardError as err:
            self._fail(unit, step, StepStatus.FAILED, err, TargetOutcome.FAILED)
        except Exception as err:  # a bug: keep the other VMs going, details to the log
            log.exception("internal error in %s on %s", step.id, unit.key)
            self._fail(
                unit,
                step,
                StepStatus.FAILED,
                RuntimeError(f"internal error: {type(err).__name__}: {err}"),
                TargetOutcome.FAILED,
            )

    async def _write(self, ctx: Context, unit: Unit, step: Step, before: Outcome) -> None:
        if step.risk.needs_confirmation:
            await self._confirm(unit, step)
        self.journal.append(
            "step-begin", target=unit.key, step_id=step.id, step=step.record(), undo=before.facts
        )
        try:
            try:
                await step.apply(ctx, before)
            except FixNeeded as need:
                fix = unit.fixes.get(step.id)
                if fix is None:
                    raise
                ctx.progress(f"diagnosis: {need}; proposing: {fix.title}")
                await self._fix(ctx, unit, fix)
                await step.apply(ctx, await step.check(ctx))
            after = await step.verify(ctx)
            if not after.done:
                raise FipsWizardError(f"verification failed: {after.detail}")
        except asyncio.CancelledError:
            # Interrupted mid-write: left unfinished on purpose, so the next run resumes it.
            self.journal.append("step-interrupted", target=unit.key, step_id=step.id)
            raise
        except Exception as err:
            self.journal.append(
                "step-end", target=unit.key, step_id=step.id, status="failed", detail=str(err)
            )
            raise
        self.journal.append(
            "step-end", target=unit.key, step_id=step.id, status="applied", detail=after.detail
        )
        self.emit(StepFinished(unit.key, step.id, StepStatus.APPLIED, after.detail))

    async def _fix(self, ctx: Context, unit: Unit, fix: Step) -> None:
        self.emit(StepStarted(unit.key, fix.id, fix.title, str(fix.risk)))
        fix_ctx = ctx.bind(progress=lambda t: self.emit(StepOutput(unit.key, fix.id, redact(t))))
        try:
            before = await fix.check(fix_ctx)
            if before.done:
                self.emit(StepFinished(unit.key, fix.id, StepStatus.SKIPPED, before.detail))
                return
            await self._write(fix_ctx, unit, fix, before)
        except FipsWizardError as err:  # the step that needed the fix fails with it
            self.emit(
                StepFinished(
                    unit.key,
                    fix.id,
                    StepStatus.FAILED,
                    redact(str(err)),
                    getattr(err, "advice", ""),
                )
            )
            raise

    async def _confirm(self, unit: Unit, step: Step) -> None:
        if not await self.ctx.prompter.confirm(unit.key, step.confirmation()):
            self.emit(
                StepFinished(unit.key, step.id, StepStatus.DECLINED, "declined by the operator")
            )
            raise _Failure(TargetOutcome.DECLINED, f"{step.title}: declined")

    def _fail(
        self, unit: Unit, step: Step, status: StepStatus, err: BaseException, outcome: TargetOutcome
    ) -> None:
        text = redact(str(err))
        advice = getattr(err, "advice", "")
        self.emit(StepFinished(unit.key, step.id, status, text, advice))
        raise _Failure(outcome, f"{step.title}: {text.splitlines()[0]}")
