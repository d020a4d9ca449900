"""The engine: runs a plan and yields typed events; both front ends consume the same stream.

A run has three phases. Read: every unit (concurrently, under the bound) finishes what an
earlier interrupted run left (`Step.recover`), runs its read-only steps and checks its writing
steps up to the first one not done; nothing is written. Gate: one `prompter.approve` for every
disruptive or irreversible step that may still run. Write: subscription units first, then VM
units concurrently; a step the gate did not approve is declined, never asked mid-run. One
failing VM does not stop the others. Every write is journalled before and after.

A prompter that answers each item alone (`AnswersAlone`: headless `--yes`) is asked first,
for every item the plan may need; then each unit is read and written on its own, as soon as
its subscription unit has ended (`_unit_by_unit`), so the first write waits for no other VM.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import NoReturn, TypeVar

from fipswizard.azure.steps_validate import FixNeeded
from fipswizard.azure.steps_vm import RegionRejected
from fipswizard.context import ARM_WRITES, Context, ScriptRunner, Target
from fipswizard.engine.approvals import (
    ApprovalItem,
    declined_by,
    is_declined,
    plan_items,
    unit_items,
)
from fipswizard.engine.batch_write import BatchWriter, _Failure, _forget_reads
from fipswizard.engine.events import (
    Diagnosed,
    Event,
    Finding,
    RunFinished,
    RunStarted,
    StepFinished,
    StepOutput,
    StepStarted,
    StepStatus,
    TargetFinished,
    TargetOutcome,
)
from fipswizard.engine.journal import Journal
from fipswizard.engine.plan import Plan, Unit
from fipswizard.engine.prompter import AnswersAlone, AsksEachStep, StepQuestion
from fipswizard.engine.steps import Outcome, Risk, Step
from fipswizard.errors import AuthError, ConfirmationNeeded, FipsWizardError
from fipswizard.recipe import DEFAULT_READS
from fipswizard.secrets import redact

log = logging.getLogger("fipswizard.engine.run")
RunnerFactory = Callable[[Target], ScriptRunner | None]
T = TypeVar("T")


@dataclass
class _Read:
    """What the read phase learned about one unit."""

    ctx: Context
    start: int = 0  # index of the first writing step not done (len(steps): all done)
    outcome: TargetOutcome | None = None  # set when the unit already ended (e.g. preflight)
    items: list[ApprovalItem] = field(default_factory=list)

    def pending(self, unit: Unit) -> bool:
        return self.outcome is None and self.start < len(unit.steps)


def failed_last(journal: Journal) -> set[tuple[str, str]]:
    """(target, step_id) pairs whose last write ended "failed" and that no later `recover`
    dealt with. A failed write may leave the VM half-way as surely as a killed one: e.g. the
    reallocate fix whose start POST was refused after its deallocate leaves the VM deallocated,
    and the next run would fail at its first read. `Step.recover` is idempotent, and the
    `recover` record settles the pair, so a recovery that wrote is not repeated."""
    failed: dict[tuple[str, str], bool] = {}
    for r in journal.records():
        key, event = (r.get("target", ""), r.get("step_id", "")), r["event"]
        if event == "step-end":
            failed[key] = r.get("status") == "failed"
        elif event in ("step-begin", "step-skip", "recover"):
            failed[key] = False
    return {k for k, v in failed.items() if v}


class Engine(BatchWriter):
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
        on_interrupt: Callable[[Event], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.plan, self.ctx, self.journal = plan, ctx, journal
        self.run_id, self.correlation_id = run_id, correlation_id
        self.concurrency = concurrency or plan.recipe.concurrency or DEFAULT_READS
        self.runner_factory = runner_factory
        # Events that must be seen even when the consumer has stopped (Ctrl-C).
        self.on_interrupt = on_interrupt
        # Every event is stamped with `clock` (durations); the run's start and end also carry
        # `wall_clock` (the report's times). Tests inject both.
        self.clock, self.wall_clock = clock, wall_clock
        self.gate_refused: str | None = None  # the prompter's message when the gate refused
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._unfinished = journal.unfinished()
        self._failed = failed_last(journal)
        self._targets = {rt.target.key: rt.target for rt in plan.recipe.targets}
        self._declined = declined_by(plan.recipe)
        self._approved: set[tuple[str, str]] = set()
        self._started: set[tuple[str, str]] = set()  # StepStarted already emitted
        # The diagnosis that proposed each fix, by (target, fix step id): its question shows it.
        self._diagnoses: dict[tuple[str, str], Diagnosed] = {}

    def emit(self, event: Event) -> Event:
        stamped = replace(event, at=self.clock())
        self._queue.put_nowait(stamped)
        return stamped

    async def run(self) -> AsyncIterator[Event]:
        task = asyncio.create_task(self._run_all())
        try:
            while (event := await self._queue.get()) is not None:
                yield event
        finally:
            if not task.done():
                # Wait for the run to unwind: a disruptive step shielded from the cancel
                # finishes first, so the VM is not left e.g. deallocated.
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
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
            self.emit(
                RunStarted("", self.run_id, self.correlation_id, keys, wall_time=self.wall_clock())
            )
            # What the plan noted (selector drift, an unreadable VM...), said once, up front, so
            # `apply` shows it as `plan` does.
            for unit in self.plan.units:
                for level, code, text in unit.note_findings():
                    self.emit(Finding(unit.key, level, code, redact(text)))
            results: dict[str, TargetOutcome] = {}
            for key, reason in self.plan.skipped.items():
                self.journal.append("target-skip", target=key, reason=reason)
                self.emit(TargetFinished(key, TargetOutcome.DECLINED, f"skipped: {reason}"))
                results[key] = TargetOutcome.DECLINED
            # A prompter that answers each item alone (--yes) is asked before any read, for
            # every item the plan may need (as the TUI's Confirm screen lists them): an item
            # found done later is not run, and the answer for the others is the same. Should
            # it refuse all the same, nothing is written: the run goes the usual way.
            if self._answers_alone() and await self._gate(plan_items(self.plan)):
                results.update(await self._unit_by_unit())
            else:
                reads = await self._read_phase()
                pending = [u for u in self.plan.units if reads[u.key].pending(u)]
                if await self._gate([i for u in pending for i in reads[u.key].items]):
                    results.update(await self._write_phase(reads))
                else:
                    results.update(self._refused(reads))
            self.journal.append("run-end", outcomes={k: str(v) for k, v in results.items()})
            self.emit(RunFinished("", results, wall_time=self.wall_clock()))
        finally:
            self._queue.put_nowait(None)

    # -- read phase --------------------------------------------------------------------------

    async def _read_phase(self) -> dict[str, _Read]:
        bound = asyncio.Semaphore(self.concurrency)

        async def one(unit: Unit) -> tuple[str, _Read]:
            async with bound:
                return unit.key, await self._read_unit(unit)

        return dict(await asyncio.gather(*map(one, self.plan.units)))

    async def _read_unit(self, unit: Unit) -> _Read:
        read = _Read(self._context(unit))
        try:
            await self._recover(read.ctx, unit)
            for n, step in enumerate(unit.steps):
                if step.risk is Risk.READ_ONLY:
                    await self._step(read.ctx, unit, step)
                elif not await self._step(read.ctx, unit, step, write=False):
                    read.start = n
                    break
            else:
                read.start = len(unit.steps)
        except _Failure as failure:
            read.outcome = failure.outcome
            self.emit(TargetFinished(unit.key, failure.outcome, failure.detail))
            return read
        read.items = unit_items(unit, read.start)
        return read

    async def _recover(self, ctx: Context, unit: Unit) -> None:
        """Finish or undo what an earlier, approved run left half-done (e.g. a VM it
        deallocated), before anything else touches this VM."""
        for step in dict.fromkeys([*unit.steps, *unit.fixes.values()]):
            key = (unit.key, step.id)
            if key not in self._unfinished and key not in self._failed:
                continue
            undo = self._undo_of(unit.key, step.id)
            note = await self._guard(unit, step, step.recover(ctx, undo))
            if note:
                self.journal.append("recover", target=unit.key, step_id=step.id, detail=note)
                self.emit(StepOutput(unit.key, step.id, redact(f"recovered: {note}")))

    def _undo_of(self, target: str, step_id: str) -> dict[str, object]:
        begun = [b for b in self.journal.begun() if (b.target, b.step_id) == (target, step_id)]
        return dict(begun[-1].undo) if begun else {}

    # -- gate ---------------------------------------------------------------------------------

    def _answers_alone(self) -> bool:
        prompter = self.ctx.prompter
        return isinstance(prompter, AnswersAlone) and prompter.answers_alone

    async def _gate(self, items: list[ApprovalItem]) -> bool:
        try:
            approved = await self.ctx.prompter.approve(items)
        except ConfirmationNeeded as err:
            self.gate_refused = redact(str(err))
            self.journal.append("gate-refused", items=[i.to_dict() for i in items])
            return False
        self.gate_refused = None
        # A decision recorded in the recipe holds whatever the prompter said.
        self._approved = {i.key for i in items if not is_declined(i, self._declined)} & approved
        self.journal.append(
            "gate-approved",
            approved=sorted(f"{t} {s}" for t, s in self._approved),
            declined=sorted(f"{i.target} {i.step_id}" for i in items if i.key not in approved),
        )
        return True

    def _refused(self, reads: dict[str, _Read]) -> dict[str, TargetOutcome]:
        results: dict[str, TargetOutcome] = {}
        for unit in self.plan.units:
            read = reads[unit.key]
            if read.outcome is not None:
                results[unit.key] = read.outcome
            elif read.pending(unit):
                titles = "; ".join(i.title for i in read.items) or "its writes wait for the gate"
                detail = f"not approved, nothing changed: {titles}"
                self.emit(TargetFinished(unit.key, TargetOutcome.NEEDS_CONFIRMATION, detail))
                results[unit.key] = TargetOutcome.NEEDS_CONFIRMATION
            else:
                self.emit(TargetFinished(unit.key, TargetOutcome.COMPLIANT, "every step holds"))
                results[unit.key] = TargetOutcome.COMPLIANT
        return results

    # -- unit by unit ------------------------------------------------------------------------

    async def _unit_by_unit(self) -> dict[str, TargetOutcome]:
        """After the gate (asked for `plan_items`), each unit is read and written on its own:
        its first write need not wait for the slowest VM's read, and each writing step's check
        is the read its write is built from (no second read). A VM unit takes its place (the
        bound) in turn by subscription (`by_subscription`), then waits for its subscription
        unit (`after`), which needs no place: it must end compliant, else the VM ends blocked,
        unread."""
        bound = asyncio.Semaphore(self.concurrency)

        async def alone(unit: Unit) -> TargetOutcome:
            read = _Read(self._context(unit))
            try:
                await self._recover(read.ctx, unit)
            except _Failure as failure:
                self.emit(TargetFinished(unit.key, failure.outcome, failure.detail))
                return failure.outcome
            return await self._write_unit(unit, read)  # checks each step, then writes it

        async def vm(unit: Unit) -> TargetOutcome:
            async with bound:
                if unit.after:
                    sub = subs.get(unit.after)
                    blocker = await asyncio.shield(sub) if sub else None
                    if blocker is not TargetOutcome.COMPLIANT:
                        detail = f"blocked: {unit.after} ended {blocker}"
                        self.emit(TargetFinished(unit.key, TargetOutcome.BLOCKED, detail))
                        return TargetOutcome.BLOCKED
                return await alone(unit)

        subs = {u.key: asyncio.ensure_future(alone(u)) for u in self.plan.subscription_units}
        vms = self.by_subscription(self.plan.vm_units)
        outcomes = await asyncio.gather(*subs.values(), *map(vm, vms))
        found = dict(zip([*subs, *(u.key for u in vms)], outcomes, strict=True))
        return {u.key: found[u.key] for u in self.plan.units}

    def by_subscription(self, units: list[Unit]) -> list[Unit]:
        """`units` one subscription at a time in turn (each keeping its order): ARM's write
        budget is per subscription, so the VMs in flight are spread over every budget, not
        spent waiting on the first subscription's while the others' go unused."""
        groups: dict[str, list[Unit]] = {}
        for unit in units:
            target = self._targets.get(unit.key)
            groups.setdefault(target.subscription.lower() if target else "", []).append(unit)
        turns = itertools.zip_longest(*groups.values())
        return [unit for turn in turns for unit in turn if unit is not None]

    # -- write phase --------------------------------------------------------------------------

    async def _write_phase(self, reads: dict[str, _Read]) -> dict[str, TargetOutcome]:
        results: dict[str, TargetOutcome] = {}
        subs = self.plan.subscription_units
        outcomes = await asyncio.gather(*(self._write_unit(u, reads[u.key]) for u in subs))
        results.update(zip((u.key for u in subs), outcomes, strict=True))
        bound = asyncio.Semaphore(self.concurrency)

        async def bounded(unit: Unit) -> TargetOutcome:
            read = reads[unit.key]
            if read.outcome is not None:
                return read.outcome
            blocker = results.get(unit.after or "")
            if unit.after and blocker is not TargetOutcome.COMPLIANT:
                detail = f"blocked: {unit.after} ended {blocker}"
                self.emit(TargetFinished(unit.key, TargetOutcome.BLOCKED, detail))
                return TargetOutcome.BLOCKED
            async with bound:
                return await self._write_unit(unit, read)

        vms = self.plan.vm_units
        outcomes = await asyncio.gather(*map(bounded, vms))
        results.update(zip((u.key for u in vms), outcomes, strict=True))
        return results

    def _context(self, unit: Unit) -> Context:
        target = self._targets.get(unit.key)
        runner = self.runner_factory(target) if (self.runner_factory and target) else None
        steps = tuple(unit.steps)
        return self.ctx.bind(target=target, runner=runner, unit_steps=steps, reads={})

    async def _write_unit(self, unit: Unit, read: _Read) -> TargetOutcome:
        if read.outcome is not None:
            return read.outcome
        try:
            # Steps before `start` were proven done (or ran, read-only) in the read phase.
            n = read.start
            while n < len(unit.steps):
                group = self._batchable(unit, n)
                if len(group) > 1:
                    n += await self._write_batch(
                        read.ctx, unit, group, unit.steps[n + len(group) :]
                    )
                else:
                    await self._step(read.ctx, unit, unit.steps[n])
                    n += 1
        except _Failure as failure:
            self.emit(TargetFinished(unit.key, failure.outcome, failure.detail))
            return failure.outcome
        self.emit(TargetFinished(unit.key, TargetOutcome.COMPLIANT, "every step holds"))
        return TargetOutcome.COMPLIANT

    # -- one step -----------------------------------------------------------------------------

    async def _step(self, ctx: Context, unit: Unit, step: Step, *, write: bool = True) -> bool:
        """Check `step`; skip it when it holds, otherwise apply it (only when `write`).

        Returns whether it held. Failures end the unit (`_Failure`)."""

        ctx = ctx.bind(**self._progress(unit.key, step.id))
        self._announce(unit, step)
        before = await self._guard(unit, step, step.check(ctx))
        forced = (
            getattr(step, "resume_incomplete", False) and (unit.key, step.id) in self._unfinished
        )
        if before.done and not forced:
            self._held(unit, step, before)
            return True
        if write:
            await self._guard(unit, step, self._write(ctx, unit, step, before))
        return False

    def _progress(self, key: str, step_id: str) -> dict[str, object]:
        """The context's progress callbacks for one step: a line, or a wait with its fraction."""

        def progress(text: str) -> None:
            self.emit(StepOutput(key, step_id, redact(text)))

        def wait(text: str, waited: float, total: float) -> None:
            fraction = min(1.0, waited / total) if total > 0 else None
            self.emit(StepOutput(key, step_id, redact(text), fraction))

        def finding(level: str, code: str, text: str) -> None:
            self.emit(Finding(key, level, code, redact(text)))

        return {"progress": progress, "wait_progress": wait, "on_finding": finding}

    async def _guard(self, unit: Unit, step: Step, work: Awaitable[T]) -> T:
        """Await `work`; map an error to the step's failure and the unit's outcome."""
        try:
            return await work
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
            await self._allowed(unit, step)
        self._begin(unit, step, before)
        _forget_reads(ctx, step)
        writes: list[dict[str, object]] = []  # ARM request ids of this step's writes
        token = ARM_WRITES.set(writes)
        try:
            try:
                await self._apply(ctx, unit, step, before)
            except FixNeeded as need:
                fix = unit.fixes.get(step.id)
                if fix is None:
                    raise
                found = Diagnosed(
                    unit.key,
                    step.id,
                    need.cause,
                    redact(need.message),
                    redact(need.advice),
                    fix.title,
                    fix.id,
                )
                self._diagnoses[(unit.key, fix.id)] = found
                self.emit(found)
                await self._fix(ctx, unit, fix)
                await step.apply(ctx, await step.check(ctx))
            after = await step.verify(ctx)
            if not after.done:
                raise FipsWizardError(f"verification failed: {after.detail}")
        except asyncio.CancelledError:
            self._interrupted(unit, [step], writes)
            raise
        except Exception as err:
            self._end(unit, step, "failed", str(err), writes)
            raise
        finally:
            ARM_WRITES.reset(token)
        self._end(unit, step, "applied", after.detail, writes)
        self.emit(
            StepFinished(
                unit.key, step.id, StepStatus.APPLIED, after.detail, before=redact(before.detail)
            )
        )

    async def _apply(self, ctx: Context, unit: Unit, step: Step, before: Outcome) -> None:
        """Apply `step`; a disruptive one (reboot, deallocate + start) is shielded from Ctrl-C
        so it finishes and the VM is left running before the run stops."""
        if step.risk is not Risk.DISRUPTIVE:
            await step.apply(ctx, before)
            return
        job = asyncio.ensure_future(step.apply(ctx, before))
        try:
            await asyncio.shield(job)
        except asyncio.CancelledError:
            if job.done():
                raise
            event = StepOutput(
                unit.key,
                step.id,
                f"interrupted: letting '{step.title}' finish so the VM is left running",
            )
            self.emit(event)
            if self.on_interrupt:
                self.on_interrupt(event)
            with suppress(Exception):
                await job  # its own failure is the next run's business (journal: unfinished)
            raise

    async def _fix(self, ctx: Context, unit: Unit, fix: Step) -> None:
        self._started.add((unit.key, fix.id))
        self.emit(StepStarted(unit.key, fix.id, fix.title, str(fix.risk), role=fix.role))
        fix_ctx = ctx.bind(**self._progress(unit.key, fix.id))
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
                    redact(err.headline()),
                    redact(err.advice),
                    err.code,
                )
            )
            raise

    async def _allowed(self, unit: Unit, step: Step) -> None:
        """A disruptive step runs only if the gate approved it; never a new question, except
        the TUI's optional "ask again before each disruptive step" (`prompter.ask_each`)."""
        approved = (unit.key, step.id) in self._approved
        prompter = self.ctx.prompter
        if approved and self._asks_each() and isinstance(prompter, AsksEachStep):
            question = StepQuestion(
                unit.key,
                step.id,
                step.title,
                str(step.risk),
                step.confirmation(),
                self._diagnoses.get((unit.key, step.id)),
            )
            approved = await prompter.ask_step(question)
        if approved:
            return
        self.journal.append("step-declined", target=unit.key, step_id=step.id)
        self.emit(StepFinished(unit.key, step.id, StepStatus.DECLINED, "declined by the operator"))
        raise _Failure(TargetOutcome.DECLINED, f"{step.title}: declined (stopped before it)")

    def _fail(
        self, unit: Unit, step: Step, status: StepStatus, err: BaseException, outcome: TargetOutcome
    ) -> NoReturn:
        if isinstance(err, FipsWizardError):
            text, advice, code = redact(err.headline()), redact(err.advice), err.code
        else:
            text, advice, code = redact(str(err)), "", type(err).__name__
        self.emit(StepFinished(unit.key, step.id, status, text, advice, code))
        first = text.splitlines()[0] if text else type(err).__name__
        raise _Failure(outcome, f"{step.title}: {first}")
