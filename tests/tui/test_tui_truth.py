"""The TUI tells the truth (issue 11 item 5): progress, Ctrl+X during a question, the resume
dialog prefilled with the journal just left, what a resumed journal already did, the palette
without duplicates, and the exit codes the README documents."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from textual.app import App
from textual.widgets import Checkbox, Input, ProgressBar, Static
from tui_helpers import answer_questions, open_recipe_with, through_to_run, wait_for, wait_screen

from fipswizard.engine.events import (
    RunFinished,
    RunStarted,
    StepFinished,
    StepOutput,
    StepRole,
    StepStarted,
    StepStatus,
    TargetFinished,
    TargetOutcome,
)
from fipswizard.engine.journal import Journal
from fipswizard.session import Options
from screens.app import create_app
from screens.command_table import commands_for
from screens.confirm import ConfirmScreen
from screens.dialogs import ErrorDialog, PathDialog, QuestionScreen, YesNoDialog
from screens.journal_done import journal_done
from screens.messages import engine_message
from screens.plan_preview import PlanScreen
from screens.preflight import PreflightScreen
from screens.run import RunScreen, elapsed
from screens.summary import SummaryScreen
from screens.target import TargetScreen
from screens.validation import ValidationScreen

A, B = "sub/rg/vm-a", "sub/rg/vm-b"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class RunOnly(App[None]):
    def __init__(self, screen: RunScreen) -> None:
        super().__init__()
        self.run_screen = screen

    def on_mount(self) -> None:
        self.push_screen(self.run_screen)


async def test_progress_is_100_exactly_when_the_run_finishes_and_times_are_shown() -> None:
    # vm-b stops after its first step (a refusal): its other planned steps never run, and
    # vm-a gets a fix validation asked for. The bar must not stop short nor reach 100 early.
    planned = [(A, "read"), (A, "flag"), (B, "read"), (B, "flag"), (B, "reboot")]
    clock = Clock()
    screen = RunScreen("Running 2 VM(s)", planned, clock=clock)
    app = RunOnly(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        bar = screen.query_one("#run-progress", ProgressBar)
        events = [
            RunStarted("", "run-1", "corr-1", (A, B)),
            StepStarted(A, "read", "Read the VM", "read-only"),
            StepStarted(B, "read", "Read the VM", "read-only"),
            StepFinished(B, "read", StepStatus.FAILED, "refused"),
            TargetFinished(B, TargetOutcome.FAILED, "refused"),
            StepFinished(A, "read", StepStatus.SKIPPED),
            StepStarted(A, "flag", "Set the flag", "reversible"),
            StepFinished(A, "flag", StepStatus.APPLIED),
            StepStarted(
                A, "fix-reallocate", "Deallocate and start", "disruptive", role=StepRole.FIX
            ),
        ]
        for event in events:
            clock.now += 30
            screen.post_message(engine_message(event))
            await pilot.pause()
        assert bar.percentage is not None and bar.percentage < 1.0
        assert screen.total == 6  # the fix joined the count
        table = screen.query_one("#run-table")
        assert table.get_cell(A, "time") == "3:30/0:00"
        clock.now += 30
        screen._tick()  # the 1 s timer keeps running VMs' times moving between events
        assert table.get_cell(A, "time") == "4:00/0:30"  # the VM so far / its current step
        assert table.get_cell(B, "time") == "1:00"  # from its first event to its outcome
        for event in (
            StepFinished(A, "fix-reallocate", StepStatus.APPLIED),
            TargetFinished(A, TargetOutcome.COMPLIANT),
            RunFinished("", {A: TargetOutcome.COMPLIANT, B: TargetOutcome.FAILED}),
        ):
            clock.now += 30
            screen.post_message(engine_message(event))
            await pilot.pause()
        assert bar.percentage == 1.0
        assert table.get_cell(A, "time") == "5:00"


async def test_times_come_from_the_events_own_timestamps() -> None:
    screen = RunScreen("Running", [(A, "read")], clock=lambda: 1000.0)
    app = RunOnly(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for event in (
            StepStarted(A, "read", "Read the VM", "read-only", at=900.0),
            StepFinished(A, "read", StepStatus.APPLIED, at=990.0),
            TargetFinished(A, TargetOutcome.COMPLIANT, at=995.0),
        ):
            screen.post_message(engine_message(event))
        await pilot.pause()
        assert screen.query_one("#run-table").get_cell(A, "time") == "1:35"
        assert screen.timing.step(A, "read") == "1:30"


def test_elapsed_is_short() -> None:
    assert [elapsed(s) for s in (0, 59.9, 61, 3600 + 62)] == ["0:00", "0:59", "1:01", "1:01:02"]


async def test_the_log_follows_output_unless_scrolled_up_and_keeps_its_height_at_80x24() -> None:
    screen = RunScreen("Running", [(A, "read"), (B, "read")], clock=Clock())
    app = RunOnly(screen)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log = screen.query_one("#run-log")
        assert log.size.height >= 5  # not shrunk to a border
        for n in range(60):
            screen.post_message(engine_message(StepOutput(A, "read", f"line {n}")))
        await pilot.pause()
        assert log.is_vertical_scroll_end and log.scroll_y > 0
        # A wait's progress row shows above the log while other VMs write: it keeps following.
        screen.post_message(engine_message(StepOutput(A, "read", "waiting", 0.5)))
        for n in range(5):
            screen.post_message(engine_message(StepOutput(B, "read", f"after {n}")))
            await pilot.pause()
        assert screen.query_one("#wait-row").visible
        assert log.is_vertical_scroll_end, (log.scroll_y, log.max_scroll_y)
        log.scroll_to(y=0, animate=False, immediate=True)
        screen.post_message(engine_message(StepOutput(A, "read", "one more")))
        await pilot.pause()
        assert log.scroll_y == 0  # the operator reads the top: it stays there


def test_journal_done_folds_applied_skipped_and_rolled_back(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl", run_id="r1")
    journal.append("run-start")
    journal.append("step-end", target=A, step_id="flag", status="applied")
    journal.append("step-end", target=A, step_id="agent", status="failed")
    journal.append("step-skip", target=B, step_id="flag")
    journal.append("step-end", target=B, step_id="guest", status="applied")
    journal.append("rollback-end", target=B, step_id="guest", of_run="r1")
    done = journal_done(tmp_path / "j.jsonl")
    assert done.applied == {(A, "flag")} and done.skipped == {(B, "flag")}
    assert "2 step(s) already done by the earlier run, 1 applied and 1 found" in done.note()


async def test_ctrl_x_while_a_question_is_open_then_resume_is_prefilled(tmp_path: Path) -> None:
    app = create_app(demo=True, workdir=tmp_path / "demo")
    recipe_file = tmp_path / "one.toml"
    journal = Journal.default_for(recipe_file)
    async with app.run_test(size=(120, 40)) as pilot:
        recipe = await open_recipe_with(pilot, ["ubuntu2204-web"], recipe_file)
        key = recipe.targets[0].target.key
        for kind in (PreflightScreen, PlanScreen, ConfirmScreen):
            await pilot.press("ctrl+n")
            confirm = await wait_screen(pilot, kind)
        confirm.query_one("#ask-each", Checkbox).value = True  # so the run asks mid-way
        await pilot.press("ctrl+n")
        question = await wait_screen(pilot, QuestionScreen)
        run = app.screen_stack[-2]
        assert isinstance(run, RunScreen)
        await pilot.press("ctrl+x")
        await wait_screen(pilot, YesNoDialog)
        await pilot.click("#yes")
        await wait_screen(pilot, RunScreen, ready=lambda s: s.ended)
        assert run.ended == "cancelled" and question not in app.screen_stack
        records = Journal(journal).records()
        events = [r["event"] for r in records]
        # the interruption: the run started and never ended; the step asked about never began
        assert "run-start" in events and "run-end" not in events
        begun = {r["step_id"] for r in records if r["event"] == "step-begin"}
        ended = {r["step_id"] for r in records if r["event"] == "step-end"}
        assert begun == ended  # nothing half-done
        done = journal_done(journal)
        assert done.applied, "the run applied steps before the question"

        await pilot.press("ctrl+n")
        await wait_screen(pilot, ValidationScreen)
        await pilot.press("ctrl+n")
        await wait_screen(pilot, SummaryScreen)
        await pilot.press("ctrl+n")
        await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        await pilot.press("ctrl+r")
        dialog = await wait_screen(pilot, PathDialog)
        assert dialog.query_one(Input).value == str(journal)  # the journal just left
        await pilot.press("enter")
        pre = await wait_screen(pilot, PreflightScreen)
        summary_line = str(pre.query_one("#preflight-summary", Static).render())
        assert "Nothing has been changed" not in summary_line
        note = str(pre.query_one("#resume-note", Static).render())
        assert f"{len(done.steps)} step(s) already done by the earlier run" in note
        await pilot.press("ctrl+n")
        plan = await wait_screen(pilot, PlanScreen)
        assert "already done" in str(plan.query_one("#resume-note", Static).render())
        await pilot.press("ctrl+n")
        confirm = await wait_screen(pilot, ConfirmScreen)
        text = str(confirm.query_one("#confirm-text", Static).render())
        assert f"{len(done.applied)} of them already done by the resumed run" in text
        await pilot.press("ctrl+n")
        await answer_questions(pilot, "y")
        assert app.screen.ended == "finished"
        assert app.screen.record.target(key).outcome == "compliant"


def test_the_palette_lists_each_command_once() -> None:
    app = create_app(demo=True, autostart=False)

    async def titles() -> list[str]:
        async with app.run_test(size=(100, 32)) as pilot:
            await pilot.pause()
            system = [c.title for c in app.get_system_commands(app.screen)]
            ours = [c.description for c in commands_for("summary")]
            return system + ours

    import asyncio

    listed = asyncio.run(titles())
    assert listed.count("Quit") == 1
    assert len(listed) == len(set(listed)), listed


def refusing(request: httpx.Request) -> httpx.Response:
    body = {"error": {"code": "InvalidAuthenticationToken", "message": "The token is expired."}}
    return httpx.Response(401, headers={"x-ms-request-id": "req-1"}, json=body)


async def test_quitting_after_an_authentication_error_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "expired-token")
    app = create_app(
        demo=False, opts=Options(transport=httpx.MockTransport(refusing)), workdir=tmp_path
    )
    async with app.run_test(size=(100, 32)) as pilot:
        await wait_screen(pilot, ErrorDialog)
        await pilot.press("escape")
        await wait_screen(pilot, TargetScreen)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert app.return_code == 3


async def test_the_tui_demo_exits_0_when_every_vm_ends_as_its_case_expects(
    tmp_path: Path,
) -> None:
    # rhel96-notready must end refused (its case): `apply` would exit 1, the demo exits 0.
    app = create_app(demo=True, workdir=tmp_path / "demo")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_recipe_with(pilot, ["rhel96-notready"], tmp_path / "one.toml")
        await through_to_run(pilot)
        await answer_questions(pilot, "y")
        for kind in (ValidationScreen, SummaryScreen):
            await pilot.press("ctrl+n")
            summary = await wait_screen(pilot, kind)
        assert summary.summary.outcomes().values() != {"compliant"}
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")
    assert app.return_code == 0


def test_textual_is_the_version_the_snapshots_were_made_with() -> None:
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement

    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    pin = next(Requirement(d) for d in deps if Requirement(d).name == "textual")
    assert pin.specifier.contains(version("textual")), (pin, version("textual"))
    assert "<" in str(pin.specifier), "an upper bound: a new minor release may redraw screens"
