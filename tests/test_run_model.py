"""The run model (engine/report.py RunReport), typed errors and events, the one preview entry
point, and the rule that screens/ never parses engine text back."""

from __future__ import annotations

import ast
import itertools
import json
from pathlib import Path

from textual.content import Content

from fipswizard.context import Context
from fipswizard.engine.events import (
    Diagnosed,
    Finding,
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
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.report import RunReport, exit_code, progress_line
from fipswizard.engine.run import Engine
from fipswizard.errors import ExitCode, FipsWizardError, StepError
from tests.test_engine import WORLD
from tests.test_gate import vm_plan

ROOT = Path(__file__).resolve().parent.parent
VM = "s/rg/vm1"


def _run(report: RunReport, *events: object) -> RunReport:
    for event in events:
        report.add(event)  # type: ignore[arg-type]
    return report


def test_the_report_owns_durations_times_and_json() -> None:
    report = _run(
        RunReport(),
        RunStarted("", "run-1", "corr-1", (VM,), at=100.0, wall_time=1_780_000_000.0),
        StepStarted(VM, "flag", "Set the flag", "reversible", at=101.0),
        StepOutput(VM, "flag", "waiting", 0.5, at=102.0),
        StepFinished(VM, "flag", StepStatus.APPLIED, "flag on", at=104.5),
        StepStarted(
            VM,
            "validate-customscript",
            "Validate",
            "reversible",
            at=105.0,
            role=StepRole.VALIDATION,
        ),
        Diagnosed(
            VM, "validate-customscript", "old-pkg", "old package", "downtime", "Fix", "fix-r"
        ),
        StepFinished(VM, "validate-customscript", StepStatus.FAILED, "failed", "redeploy", "X"),
        TargetFinished(VM, TargetOutcome.FAILED, "Validate: failed", at=110.0),
        RunFinished("", {VM: TargetOutcome.FAILED}, at=112.0, wall_time=1_780_000_012.0),
    )
    t = report.targets[VM]
    assert t.steps["flag"].duration == 3.5 and t.duration == 9.0 and report.duration == 12.0
    assert t.wait_fraction is None  # the wait ended with its step
    assert [s.step_id for s in t.validation()] == ["validate-customscript"]
    doc = json.loads(report.to_json())
    assert doc["started"] == "2026-05-28T20:26:40+00:00"
    assert doc["ended"] == "2026-05-28T20:26:52+00:00" and doc["duration_s"] == 12.0
    assert doc["exit_code"] == 1 and doc["run_id"] == "run-1"
    row = doc["targets"][0]
    assert row["duration_s"] == 9.0
    assert row["steps"][0] == {
        "id": "flag",
        "title": "Set the flag",
        "risk": "reversible",
        "status": "applied",
        "started_s": 1.0,
        "duration_s": 3.5,
        "before": None,  # an applied step's check state is not in the events
        "after": "flag on",
        "detail": "flag on",
        "advice": "",
        "code": "",
    }
    assert row["steps"][1]["code"] == "X" and row["steps"][1]["advice"] == "redeploy"
    assert row["diagnoses"] == [
        {
            "step": "validate-customscript",
            "cause": "old-pkg",
            "explanation": "old package",
            "cost": "downtime",
            "fix": "fix-r",
        }
    ]


def test_wait_fraction_and_findings_are_typed() -> None:
    report = _run(
        RunReport(),
        StepStarted(VM, "agent", "Wait", "read-only"),
        StepOutput(VM, "agent", "waiting for the agent (15s of 60s)", 0.25),
        Finding(VM, "warning", "ssh-rsa-key", "an RSA key"),
    )
    t = report.targets[VM]
    assert t.wait_fraction == 0.25 and t.warnings == ["warning: an RSA key"]
    assert progress_line(Finding(VM, "refusal", "c", "no")) == "[vm1]   preflight refusal: no"


def test_exit_codes_are_unchanged() -> None:
    def code(*outcomes: TargetOutcome, refused: str | None = None) -> int:
        report = _run(
            RunReport(),
            *(TargetFinished(f"s/rg/v{n}", o) for n, o in enumerate(outcomes)),
        )
        report.gate_refused = refused
        assert report.exit_code() == exit_code(report)
        return report.exit_code()

    assert code(TargetOutcome.COMPLIANT, TargetOutcome.ROLLED_BACK) == ExitCode.OK
    assert code(TargetOutcome.FAILED, TargetOutcome.AUTH_FAILED) == ExitCode.AUTH
    assert code(TargetOutcome.NEEDS_CONFIRMATION, refused="approve") == 4
    assert code(TargetOutcome.NEEDS_CONFIRMATION, TargetOutcome.BLOCKED) == 4
    assert code(TargetOutcome.FAILED, TargetOutcome.COMPLIANT) == ExitCode.STEP_FAILED


def test_errors_carry_message_advice_and_code_as_fields() -> None:
    err = StepError("the VM kept changing", "find what else modifies it")
    assert (err.message, err.advice, err.code) == (
        "the VM kept changing",
        "find what else modifies it",
        "StepError",
    )
    assert str(err) == "the VM kept changing\n  what to do: find what else modifies it"
    assert FipsWizardError("plain").advice == "" and FipsWizardError("x", code="C").code == "C"


async def test_headless_prompter_has_no_one_off_question() -> None:
    """Issue 11: everything is asked once through `approve`; no mid-run `confirm` remains."""
    assert not hasattr(HeadlessPrompter(False), "confirm")


async def test_engine_stamps_every_event_and_fails_with_separate_advice(tmp_path: Path) -> None:
    WORLD.clear()
    WORLD["fail"] = "a-boot"  # tests/test_engine.py's Flip raises StepError(..., advice)
    ticks = itertools.count(1.0)
    engine = Engine(
        vm_plan(["a"], fix=False),
        Context(prompter=HeadlessPrompter(True)),
        Journal(tmp_path / "j", "r"),
        run_id="r",
        correlation_id="c",
        clock=lambda: next(ticks),
        wall_clock=lambda: 1_780_000_000.0,
    )
    events = [e async for e in engine.run()]
    stamps = [e.at for e in events]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps) and stamps[0] == 1.0
    assert isinstance(events[0], RunStarted) and events[0].wall_time == 1_780_000_000.0
    failed = [e for e in events if isinstance(e, StepFinished) and e.status is StepStatus.FAILED]
    assert failed and "what to do" not in failed[0].detail
    assert failed[0].advice and failed[0].code == "StepError"
    report = _run(RunReport(), *events)
    assert report.duration == stamps[-1] - stamps[0]
    WORLD.clear()


def _calls_in(path: Path) -> list[str]:
    """`import re` and string-splitting calls in one file, as "file:line: what"."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
            if "re" in names or "regex" in names:
                found.append(f"{path.name}:{node.lineno}: import re")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in ("split", "rsplit", "partition", "rpartition", "splitlines"):
                found.append(f"{path.name}:{node.lineno}: .{node.func.attr}(")
    return found


# Splits under screens/ that do not read engine output (operator input, the TUI's own ids),
# per file. Target keys are read by fipswizard.context.TargetKey, never split here.
ALLOWED = {
    "target_model.py": 1,  # the operator's filter words
    "runner.py": 1,  # first line of an internal error's text for the status line
    "wizard.py": 1,  # first line of a failed guest probe's detail
}


def test_screens_never_parse_engine_text() -> None:
    """An AST walk over screens/*.py: no `import re`, and no .split/.rsplit/.partition/
    .splitlines call beyond the ALLOWED few (which read no engine output or await a typed
    key). The parse-backs this replaced (run_record's _WAITED and parse_diagnosis,
    error_info's advice split, findings' _state_word, plan_preview's re.split, the prompter's
    same_step) would each fail it."""
    seen: dict[str, list[str]] = {}
    for path in sorted((ROOT / "screens").glob("*.py")):
        found = _calls_in(path)
        if found:
            seen[path.name] = found
    over = {f: c for f, c in seen.items() if len(c) > ALLOWED.get(f, 0)}
    assert over == {}, over
    for name in ("run_record.py", "error_info.py", "findings.py", "plan_preview.py"):
        assert name not in seen, seen.get(name)
    prompter = (ROOT / "screens" / "tui_prompter.py").read_text(encoding="utf-8")
    assert "sleep(0)" not in prompter and ".replace(" not in prompter


async def test_plan_prints_the_preflight_screens_verdicts_for_the_demo(tmp_path: Path) -> None:
    """One preview entry point: `fipswizard plan`'s text holds, per demo VM, the verdict and
    every finding line the TUI's Preflight screen shows for the same plan and states."""
    from fipswizard.demo_env import demo_environment
    from fipswizard.session import preview
    from screens.preflight import PreflightScreen, row_details

    async with demo_environment(tmp_path) as env:
        shown = await preview(env.recipe, env.opts)
    text = shown.text()
    screen_rows = PreflightScreen(shown.plan, shown.states).rows
    assert screen_rows == shown.rows and len(screen_rows) == len(shown.plan.vm_units) > 5
    verdicts = {r.verdict for r in screen_rows}
    assert "refused" in verdicts and "ready" in verdicts  # the demo has both
    section = text.split("== Preflight (platform, read now) ==\n", 1)[1].split("\n\n", 1)[0]
    for row in screen_rows:
        assert f"{row.vm}: {row.verdict}" in section
        shown_on_screen = Content.from_markup(row_details(row)).plain.splitlines()[2:]
        for line in shown_on_screen[: len(row.findings)]:
            assert f"  {line}\n" in section + "\n", line
    doc = json.loads(shown.json())
    assert [p["verdict"] for p in doc["preflight"]] == [r.verdict for r in screen_rows]
