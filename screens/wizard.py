"""The wizard: one exclusive worker coroutine walking the phases, awaiting typed screen results.

Screens never do I/O; this coroutine reads files, talks to ARM (GETs for the preview) and
starts the engine worker. Every error becomes a dialog; the walk goes back to a safe phase.
"""

from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fipswizard.engine.journal import Journal
from fipswizard.engine.plan import Plan
from fipswizard.engine.report import Summary
from fipswizard.errors import ExitCode, FipsWizardError
from fipswizard.recipe import Recipe, dump_recipe, load_recipe
from screens.base import WizardScreen
from screens.confirm import ConfirmScreen
from screens.dialogs import ErrorDialog
from screens.error_info import describe_error
from screens.journal_done import JournalDone, journal_done
from screens.messages import Notice, PhaseEntered, RecipeSaved
from screens.plan_preview import PlanScreen
from screens.preflight import PreflightScreen
from screens.results import (
    Nav,
    OpenRecipe,
    ResumeJournal,
    RollbackJournal,
    RunChoice,
    SaveRecipe,
    SummaryAction,
    UseRecipe,
)
from screens.rollback import RollbackScreen
from screens.run import RunScreen
from screens.runner import RunFeed, drive
from screens.session_env import WizardSession, open_session
from screens.summary import EvidenceMaker, SummaryScreen
from screens.target import TargetScreen
from screens.tui_prompter import TuiPrompter
from screens.validation import ValidationScreen

if TYPE_CHECKING:
    from screens.app import FipsWizardApp

log = logging.getLogger("fipswizard.tui")


@dataclass
class Walk:
    """What the phases hand on to each other."""

    recipe: Recipe | None
    journal: Path = Path()
    plan: Plan | None = None
    states: dict[tuple[str, str], str] = field(default_factory=dict)
    feed: RunFeed | None = None
    choice: RunChoice | None = None  # the Confirm screen's approvals
    note: str = ""  # a line for the next screen (what was opened or saved)
    done: JournalDone | None = None  # a resumed journal's finished steps
    bundle: Path | None = None  # where the summary's Evidence button wrote this run's bundle

    def shown(self, screen: WizardScreen[Any]) -> WizardScreen[Any]:
        """The screen, told what a resumed journal already did."""
        if self.done is not None:
            screen.resume_note = self.done.note()
        return screen

    def need_plan(self) -> Plan:
        assert self.plan is not None, "the plan is read before the phases that show it"
        return self.plan


class Wizard:
    def __init__(self, app: FipsWizardApp) -> None:
        self.app = app
        self.session: WizardSession | None = None

    def phase(self, phase: str, status: str, busy: bool = False) -> None:
        self.app.post_message(PhaseEntered(phase, status, busy))

    async def error(self, err: BaseException) -> None:
        self.app.error_shown(err)
        await self.app.push_screen_wait(ErrorDialog(describe_error(err, self.app.log_path)))

    async def walk(self) -> None:
        """The whole wizard; never lets an exception reach the screen as a traceback."""
        try:
            async with AsyncExitStack() as stack:
                self.phase(
                    "target",
                    "Starting" + (" the simulated Azure..." if self.app.demo else "..."),
                    busy=True,
                )
                self.session = await open_session(
                    stack, demo=self.app.demo, opts=self.app.opts, workdir=self.app.workdir
                )
                await self._phases(self.session)
        except Exception as err:  # the last line of defence: a dialog, then leave
            await self.error(err)
            code = err.exit_code if isinstance(err, FipsWizardError) else ExitCode.STEP_FAILED
            self.app.exit(return_code=int(code))

    async def _phases(self, s: WizardSession) -> None:
        """A small state machine: each phase method returns the name of the next one."""
        walk = Walk(recipe=s.base)
        phases = {
            "target": self._target,
            "read": self._preflight_read,
            "preflight": self._preflight,
            "plan": self._plan,
            "confirm": self._confirm,
            "validation": self._validation,
            "summary": self._summary,
        }
        state = "target"
        while state != "quit":
            state = await phases[state](s, walk)

    async def _target(self, s: WizardSession, w: Walk) -> str:
        self.phase("target", "Choose the VMs.")
        left = w.journal if w.journal != Path() and w.journal.is_file() else None
        result = await self.app.push_screen_wait(TargetScreen(s.opts, w.recipe, w.note, left))
        w.note = ""
        if isinstance(result, UseRecipe):
            w.recipe, w.journal, w.done = result.recipe, s.journal_for(result.recipe), None
            return "read"
        if isinstance(result, OpenRecipe):
            opened = await self._guard(load_recipe, result.path)
            if opened is not None:
                w.recipe, w.note = opened, f"Opened {result.path}: check the chosen VMs."
        elif isinstance(result, ResumeJournal):
            resumed = await self._guard(_journal_recipe, result.path)
            done = await self._guard(journal_done, result.path) if resumed is not None else None
            if resumed is not None and done is not None:
                w.recipe, w.journal, w.done = resumed, result.path, done
                return "read"
        elif isinstance(result, RollbackJournal) and await self._rollback(s, result.path):
            return "quit"
        return "target"

    async def _preflight_read(self, s: WizardSession, w: Walk) -> str:
        assert w.recipe is not None
        read = await self._guard_async(self._read(s, w.recipe))
        if read is None:
            return "target"
        w.plan, w.states = read
        return "preflight"

    async def _preflight(self, s: WizardSession, w: Walk) -> str:
        nav = await self.app.push_screen_wait(w.shown(PreflightScreen(w.need_plan(), w.states)))
        return "plan" if nav is Nav.NEXT else "target"

    async def _plan(self, s: WizardSession, w: Walk) -> str:
        nav = await self.app.push_screen_wait(w.shown(PlanScreen(w.need_plan(), w.states)))
        return "confirm" if nav is Nav.NEXT else "preflight"

    async def _confirm(self, s: WizardSession, w: Walk) -> str:
        choice = await self.app.push_screen_wait(w.shown(ConfirmScreen(w.need_plan(), w.done)))
        if not isinstance(choice, RunChoice):
            return "plan"
        w.choice = choice
        w.feed = await self._run(s, w, choice)
        return "validation"

    async def _validation(self, s: WizardSession, w: Walk) -> str:
        assert w.feed is not None
        self.phase("validation", "Validation results.")
        await self.app.push_screen_wait(ValidationScreen(w.feed.record))
        return "summary"

    async def _summary(self, s: WizardSession, w: Walk) -> str:
        assert w.feed is not None and w.recipe is not None
        self.phase("summary", "Summary.")
        result = await self.app.push_screen_wait(
            SummaryScreen(
                w.feed.summary,
                journal=w.journal,
                save_default=s.save_default,
                expected=s.expected,
                note=w.note,
                evidence=self._evidence_maker(s, w),
                bundle=w.bundle,
            )
        )
        w.note = ""
        if isinstance(result, SaveRecipe):
            if await self._guard(_save, result.path, _decided(w)):
                self.app.post_message(RecipeSaved(str(result.path)))
                w.note = s.replay_hint(result.path)
            return "summary"
        if result is SummaryAction.ROLLBACK:
            return "quit" if await self._rollback(s, w.journal) else "target"
        if result is SummaryAction.NEW:
            return "target"
        self.app.exit(return_code=_quit_code(w.feed.summary, s.expected))
        return "quit"

    def _evidence_maker(self, s: WizardSession, w: Walk) -> EvidenceMaker:
        """The summary's Evidence button: the bundle for this run's journal, as
        `fipswizard evidence JOURNAL -o DIR` writes it."""

        async def make(out: Path) -> dict[str, Any]:
            from fipswizard.evidence.make import make_evidence

            doc, _ = await make_evidence(str(w.journal), out, s.opts)
            w.bundle = out
            return doc

        return make

    async def _read(self, s: WizardSession, recipe: Recipe) -> tuple[Plan, dict[Any, str]]:
        """Discover, plan and read each step's current state: GETs only."""
        from fipswizard.session import preview

        self.phase(
            "preflight", f"Reading {len(recipe.targets)} VM(s) from Azure (GETs only)...", busy=True
        )
        shown = await preview(recipe, s.opts)  # the same entry point as `fipswizard plan`
        return shown.plan, shown.states

    async def _run(self, s: WizardSession, w: Walk, choice: RunChoice) -> RunFeed:
        from fipswizard.session import run_apply

        recipe, plan, journal = w.recipe, w.need_plan(), w.journal
        assert recipe is not None
        self.phase("run", "Running.")
        planned = [(u.key, st.id) for u in plan.units for st in u.steps]
        feed = RunFeed(
            RunScreen(
                f"Running {len(recipe.targets)} VM(s); journal {journal}",
                planned,
                self.app.cancel_engine,
                self.app.clock,
            )
        )
        prompter = TuiPrompter(
            self.app,
            feed.record,
            gate=choice.approved,
            known=choice.known,
            ask_each=choice.ask_each,
        )
        return await drive(
            self.app,
            feed,
            lambda on_event: run_apply(recipe, s.opts, prompter, journal, on_event),
            journal,
            self.error,
        )

    async def _rollback(self, s: WizardSession, journal: Path) -> bool:
        """Preview, approve and run a rollback; True when the operator chose to quit."""
        from fipswizard.engine.rollback import approval_items, pending_recoveries, pending_undos
        from fipswizard.session import run_rollback

        def pending() -> tuple[list[Any], list[Any]]:
            read = Journal(journal)
            return pending_undos(read), pending_recoveries(read)

        found = await self._guard(pending)
        if found is None:
            return False
        undos, recoveries = found
        if not undos:
            self.app.post_message(Notice(f"Nothing to roll back in {journal}."))
            return False
        items = approval_items(undos, recoveries)
        choice = await self.app.push_screen_wait(RollbackScreen(undos, journal, items))
        if not isinstance(choice, RunChoice):
            return False
        self.phase("run", "Rolling back.")
        planned = [(u.begun.target, u.step.id) for u in undos]
        feed = RunFeed(
            RunScreen(
                f"Rolling back {len(undos)} change(s) from {journal}",
                planned,
                self.app.cancel_engine,
                self.app.clock,
            )
        )
        # The preview above answers run_rollback's one approval (anything it did not show,
        # the journal having grown since, is asked in the gate's modal).
        prompter = TuiPrompter(self.app, feed.record, gate=choice.approved, known=choice.known)
        await drive(
            self.app,
            feed,
            lambda on_event: run_rollback(journal, s.opts, prompter, on_event),
            journal,
            self.error,
        )
        result = await self.app.push_screen_wait(
            SummaryScreen(feed.summary, journal=journal, save_default=s.save_default, rollback=True)
        )
        if result is SummaryAction.QUIT:
            self.app.exit(return_code=0 if feed.summary.ok else 1)
        return result is SummaryAction.QUIT

    async def _guard(self, fn: Any, *args: Any) -> Any:
        """Call fn; a FipsWizardError (or any error) becomes a dialog and None."""
        try:
            return fn(*args)
        except Exception as err:
            await self.error(err)
            return None

    async def _guard_async(self, coro: Any) -> Any:
        try:
            return await coro
        except Exception as err:
            await self.error(err)
            return None


def _journal_recipe(path: Path) -> Recipe:
    from fipswizard.session import journal_recipe

    if not path.is_file():
        raise FipsWizardError(f"{path}: no such journal file")
    return journal_recipe(Journal(path))


def _decided(w: Walk) -> Recipe:
    """The recipe with what the operator decided: declined steps per VM, and the VMs refused
    at preflight left out, so `apply --yes` replays exactly that."""
    from fipswizard.engine.approvals import with_decisions
    from screens.findings import vm_rows

    assert w.recipe is not None
    skipped: dict[str, str] = {}
    if w.plan is not None:
        for row in vm_rows(w.plan, w.states):
            if row.verdict == "refused":
                why = next((f.text for f in row.findings if f.level == "refusal"), "")
                skipped[row.key] = f"refused at preflight: {why}".rstrip(": ")
    declined: dict[str, set[str]] = {}
    if w.feed is not None:
        declined = w.feed.record.declined
        for key, line in w.feed.record.targets.items():
            probe = line.steps.get("guest-probe")
            if probe is not None and probe.status == "failed" and key not in skipped:
                skipped[key] = f"refused at preflight: {probe.detail.splitlines()[0]}"
    return with_decisions(w.recipe, declined, skipped)


def _save(path: Path, recipe: Recipe) -> bool:
    try:
        path.write_text(dump_recipe(recipe), encoding="utf-8")
    except OSError as err:
        raise FipsWizardError(
            f"cannot write {path}: {err.strerror}\n  what to do: choose a "
            "directory you can write to"
        ) from None
    return True


def _quit_code(summary: Summary, expected: dict[str, str] | None) -> int:
    """The exit code when the operator quits from the summary.

    A recipe's run exits as `fipswizard apply` would (`exit_code`). The demo's VMs each play a
    case, some of which must end refused or declined, so the demo keeps `fipswizard demo`'s
    contract: 0 when every VM that ran ended as its case expects, else 1."""
    from fipswizard.demo_env import compare
    from fipswizard.engine.report import exit_code

    if expected is None:
        return exit_code(summary)
    ran = {key: want for key, want in expected.items() if key in summary.targets}
    return 0 if ran and not compare(summary, ran) else int(ExitCode.STEP_FAILED)
