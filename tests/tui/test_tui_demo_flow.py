"""The whole demo through the TUI, as an operator would drive it, then replayed headless.

Asserts on the message sequence (run_test(message_hook=...)), on what the screens hold,
and that the recipe saved from the summary replays headless (`run_apply`, what `fipswizard
apply` runs) against the same simulated Azure and against a fresh one, to the same outcomes.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import httpx
from textual.widgets import Input, ProgressBar
from tui_helpers import MessageLog, answer_questions, run_cli, wait_for, wait_screen

from fipswizard.demo_env import EXPECTED, demo_environment
from fipswizard.engine.approvals import declined_by
from fipswizard.engine.events import Diagnosed, StepFinished, StepStarted, TargetFinished
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import load_recipe
from fipswizard.session import run_apply
from screens.app import create_app
from screens.approval_list import ApprovalList
from screens.confirm import ConfirmScreen
from screens.dialogs import PathDialog
from screens.messages import (
    PhaseEntered,
    RecipeSaved,
    RunEnded,
    RunFinishedMsg,
    RunStartedMsg,
    StepFinishedMsg,
    StepStartedMsg,
    TargetFinishedMsg,
    VmsListed,
)
from screens.plan_preview import PlanScreen
from screens.preflight import PreflightScreen
from screens.run import RunScreen
from screens.summary import SummaryScreen
from screens.target import TargetScreen
from screens.validation import ValidationScreen


def check_engine_sequence(log: MessageLog) -> None:
    """Well-formed: run start first, run end last, every step starts before it finishes,
    one target outcome per target after all its steps."""
    engine = log.engine()
    assert isinstance(engine[0], RunStartedMsg)
    assert isinstance(engine[-1], RunFinishedMsg)
    started: set[tuple[str, str]] = set()
    finished_targets: set[str] = set()
    for msg in engine[1:-1]:
        ev = msg.event
        assert ev.target not in finished_targets, f"event after {ev.target} finished: {ev}"
        if isinstance(ev, StepStarted):
            assert isinstance(msg, StepStartedMsg)
            started.add((ev.target, ev.step_id))
        elif isinstance(ev, StepFinished):
            assert isinstance(msg, StepFinishedMsg)
            assert (ev.target, ev.step_id) in started, f"{ev.step_id} finished, never started"
        elif isinstance(ev, TargetFinished):
            assert isinstance(msg, TargetFinishedMsg)
            finished_targets.add(ev.target)
    run_started = engine[0].event
    # every unit the run started ends; targets skipped before it (a scale-set instance, a VM
    # refused at preflight) have no unit but still get their outcome
    assert set(run_started.targets) <= finished_targets
    assert engine[-1].event.outcomes.keys() == finished_targets


async def test_demo_through_the_tui_then_replayed_headless(tmp_path: Path) -> None:
    app = create_app(demo=True, workdir=tmp_path / "demo")
    log = MessageLog()
    saved = tmp_path / "from-tui.toml"
    async with app.run_test(size=(120, 40), message_hook=log) as pilot:
        # 1 target: the demo recipe's VMs are listed from ARM and already chosen
        target = await wait_screen(pilot, TargetScreen, ready=lambda s: s.rows)
        env_recipe = app.wizard.session.base
        assert len(target.choice.chosen) == len(env_recipe.targets) == len(EXPECTED)
        assert {r["name"] for r in target.rows} <= {t.target.vm for t in env_recipe.targets}
        await pilot.press("ctrl+n")

        # 2 preflight: facts and findings per VM, read with GETs only
        pre = await wait_screen(pilot, PreflightScreen)
        rows = {r.vm: r for r in pre.rows}
        assert rows["rhel94-app"].flag == "on" and rows["ubuntu2204-web"].flag == "off"
        assert rows["rhel96-notready"].verdict == "refused"
        assert any("Not Ready" in f.text for f in rows["rhel96-notready"].findings)
        assert any(
            "mexicocentral" in f.text and f.level == "warning"
            for f in rows["ubuntu2204-mexico"].findings
        )
        assert rows["ubuntu2204-batch"].feature == "not needed"  # FeatureNotFound subscription
        await pilot.press("ctrl+n")

        # 3 plan: the very text `fipswizard plan` prints for the same recipe and sandbox
        plan_screen = await wait_screen(pilot, PlanScreen)
        session = app.wizard.session
        code, out, err = await run_cli(
            "--arm-endpoint", session.opts.arm_endpoint or "", "plan", str(env_recipe.path)
        )
        assert code == 0, err
        assert plan_screen.text == out
        await pilot.press("ctrl+n")

        # 4 confirm: the items the gate will ask, per VM, each "[x]" or "[ ]" in plain text;
        # the focus is on the choices, not on Run. Decline the fix for the VM that needs it.
        confirm = await wait_screen(pilot, ConfirmScreen)
        approvals = confirm.query_one(ApprovalList)
        assert app.focused is approvals
        lines = approvals.state_lines()
        assert lines and all(line.lstrip().startswith("[x]") for line in lines)
        head = lines.index(next(x for x in lines if "VM ubuntu2204-fipsimage:" in x))
        fix = next(n for n in range(head + 1, len(lines)) if "[fix-reallocate" in lines[n])
        assert "[fix-reallocate, if needed]" in lines[fix] and "Deallocate and start" in lines[fix]
        approvals.highlighted = fix
        await pilot.press("space")
        assert approvals.state_lines()[fix].lstrip().startswith("[ ]")
        assert approvals.state_lines()[head].startswith("[ ]")  # the VM is not all approved
        await pilot.press("ctrl+n")

        # 5 run, 6 validation: nothing is asked mid-run; the declined fix stops that VM
        questions = await answer_questions(pilot, "y")
        assert questions == []
        run = await wait_screen(pilot, RunScreen, ready=lambda s: s.ended)
        assert run.ended == "finished"
        # the bar tells the truth: 100 % when the run says Finished (VMs stopped early and the
        # fixes that ran included), and every VM's elapsed time is shown
        assert run.query_one("#run-progress", ProgressBar).percentage == 1.0
        assert all(run.timing.vm(key) for key in run.record.targets)
        await pilot.press("ctrl+n")
        validation = await wait_screen(pilot, ValidationScreen)
        fips_image = next(
            t for k, t in validation.record.targets.items() if k.endswith("/ubuntu2204-fipsimage")
        )
        assert fips_image.steps["fix-reallocate"].status == "declined"
        assert fips_image.diagnoses and fips_image.outcome == "declined"
        await pilot.press("ctrl+n")

        # 7 summary: outcomes as the engine reported them; save the recipe
        summary_screen = await wait_screen(pilot, SummaryScreen)
        tui_outcomes = summary_screen.summary.outcomes()
        assert tui_outcomes == {
            k: str(v) for k, v in log.of(RunFinishedMsg)[0].event.outcomes.items()
        }
        await pilot.press("ctrl+s")
        dialog = await wait_screen(pilot, PathDialog)
        dialog.query_one(Input).value = str(saved)
        await pilot.press("enter")
        summary_screen = await wait_screen(pilot, SummaryScreen, ready=lambda s: s.note)
        assert saved.is_file()
        # the hint is runnable as printed: endpoint and credential included
        assert f"--arm-endpoint {session.endpoint_hint}" in summary_screen.note
        assert "FIPSWIZARD_ACCESS_TOKEN=" in summary_screen.note
        # ... and it runs as printed (after the TUI run, with the operator's decisions)
        words = shlex.split(summary_screen.note.split("replay it with: ", 1)[1])
        env = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
        argv = words[words.index("fipswizard") + 1 :]
        code, out, err = await run_cli(*argv, env=env)
        assert code == 1 and "needs confirmation" not in out, err  # notready and fipsimage

        # replay headless against the same simulated Azure (the demo's settings): the same
        # decisions, so the same outcomes, except the VM refused at preflight is skipped
        recipe = load_recipe(saved)
        decisions = {t.target.vm: (t.skip, t.decline) for t in recipe.targets}
        assert "fix-reallocate" in decisions["ubuntu2204-fipsimage"][1]
        assert (decisions["rhel96-notready"][0] or "").startswith("refused at preflight")
        replay = await run_apply(
            recipe,
            session.opts,
            HeadlessPrompter(True, declined_by(recipe)),
            tmp_path / "replay.journal.jsonl",
            lambda _e: None,
        )
        expected = {
            k: ("declined" if k.endswith("/rhel96-notready") else v)
            for k, v in tui_outcomes.items()
        }
        assert replay.outcomes() == expected
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: not app.is_running, what="the app to exit")

    # the TUI demo's contract is `fipswizard demo`'s: 0 only when every VM ended as its case
    # expects; here the operator declined the fix ubuntu2204-fipsimage needs, so 1
    assert tui_outcomes[fips_image.key] != EXPECTED["ubuntu2204-fipsimage"]
    assert app.return_code == 1
    check_engine_sequence(log)
    phases = [m.phase for m in log.of(PhaseEntered)]
    order = ["target", "preflight", "run", "validation", "summary"]
    assert [p for p in dict.fromkeys(phases) if p in order] == order
    assert [m.how for m in log.of(RunEnded)] == ["finished"]
    assert log.of(VmsListed) and [m.path for m in log.of(RecipeSaved)] == [str(saved)]
    diagnoses = [m.event for m in log.engine() if isinstance(m.event, Diagnosed)]
    diagnosed = {d.target.rsplit("/", 1)[1] for d in diagnoses}
    assert "ubuntu2204-fipsimage" in diagnosed

    # the saved recipe replays with --yes against a fresh simulated Azure to the same result,
    # and the declined fix is not run: no deallocate in its request log
    assert [t.target.key for t in recipe.targets] == [t.target.key for t in env_recipe.targets]
    async with demo_environment(tmp_path / "fresh") as fresh:
        result = await run_apply(
            recipe,
            fresh.opts,
            HeadlessPrompter(True, declined_by(recipe)),
            tmp_path / "fresh.journal.jsonl",
            lambda _e: None,
        )
        async with httpx.AsyncClient() as client:
            log_doc = (await client.get(fresh.endpoint + "/_sandbox/requests")).json()
    entries = log_doc["requests"] if isinstance(log_doc, dict) else log_doc
    assert not any(e["path"].endswith("/ubuntu2204-fipsimage/deallocate") for e in entries)
    assert result.outcomes() == expected
