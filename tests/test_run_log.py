"""Issue 10.3: a run leaves a record. The log file holds every apply and rollback (start,
each step's outcome with its duration, end with the exit code) and no secret; headless
progress lines carry the elapsed time; the JSON summary carries before/after facts and
versions; `apply` ends by offering the evidence command, runnable as printed."""

from __future__ import annotations

import json
import logging
import re
import shlex
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from fipswizard import __version__
from fipswizard.context import Target
from fipswizard.engine.events import (
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
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.report import Elapsed, RunReport
from fipswizard.logs import RunLogger, setup_logging
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, evidence_dir, run_apply, run_rollback
from tests.cli.sandbox_proc import DEMO_SUB, SandboxProc, cli_env, fipswizard, write_recipe
from tests.inproc import FAST, Recorder

VM = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm1"


@pytest.fixture
def log_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The default log path under a private XDG_STATE_HOME, with --verbose; detached after."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = setup_logging(verbose=True)
    yield path
    root = logging.getLogger("fipswizard")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def run_lines(text: str, command: str) -> list[str]:
    """The record of the `command` run: from its start line to its end line."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if f"run start: {command} " in line)
    end = next(n for n in range(start, len(lines)) if f"run end: {command} " in lines[n])
    return lines[start : end + 1]


async def test_apply_and_rollback_are_recorded_without_secrets(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    log_file: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.run-log-token-payload.sig"
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", token)
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    recorder = Recorder(sandbox.transport())
    opts = Options(
        arm_endpoint="https://management.azure.com",
        verbose=True,
        settings=FAST,
        transport=recorder,
    )
    vms = [sandbox.estate.vms[n] for n in ("ubuntu2204-web",)]
    recipe = Recipe(
        targets=tuple(
            RecipeTarget(Target(v.subscription, v.resource_group, v.name), "auto") for v in vms
        )
    )
    journal = tmp_path / "j.jsonl"
    events: list[Event] = []
    applied = await run_apply(recipe, opts, HeadlessPrompter(True), journal, events.append)
    assert applied.ok, applied.to_text()
    undone = await run_rollback(journal, opts, HeadlessPrompter(True), events.append)
    assert undone.ok, undone.to_text()

    text = log_file.read_text()
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    keys = [t.target.key for t in recipe.targets]
    apply_run = run_lines(text, "apply")
    start = apply_run[0]
    assert f"run={applied.run_id}" in start and f"correlation={applied.correlation_id}" in start
    assert f"journal={journal}" in start and all(k in start for k in keys)
    assert f"fipswizard={__version__} compute_api={FAST.compute_api} " in start
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO fipswizard.run: ", start)
    # one line per step outcome, each with its duration, and the end with the exit code
    steps = [line for line in apply_run if " INFO fipswizard.run: step " in line]
    assert len(steps) == sum(len(t.steps) for t in applied.targets.values()) > 0
    assert all(re.search(r": (applied|skipped) in \d+\.\d{3}s: ", line) for line in steps)
    assert any("fix-reallocate: applied in" in line for line in steps)
    end = apply_run[-1]
    assert f"run={applied.run_id} exit=0 duration=" in end
    assert all(f"{k}=compliant" in end for k in keys)

    rollback_run = run_lines(text, "rollback")
    assert f"run={undone.run_id}" in rollback_run[0] and f"journal={journal}" in rollback_run[0]
    undo_steps = [line for line in rollback_run if " step " in line]
    assert undo_steps and all(re.search(r" in \d+\.\d{3}s: ", line) for line in undo_steps)
    assert "exit=0" in rollback_run[-1] and "rolled back" in rollback_run[-1]

    passwords = [
        json.loads(b)["properties"]["protectedSettings"]["password"]
        for b in recorder.bodies
        if '"password"' in b
    ]
    assert passwords, "the VMAccess validation must have sent a password"
    err = capsys.readouterr().err
    assert "run start: apply" in err  # --verbose shows the record on stderr too
    for needle in (token, *passwords):
        assert needle not in text and needle not in err


def test_progress_lines_carry_the_time_since_the_run_started() -> None:
    elapsed = Elapsed()
    lines = [
        elapsed.line(e)
        for e in (
            RunStarted("", "r1", "c1", (VM,), at=100.0),
            StepStarted(VM, "flag", "Set the flag", "reversible", at=100.3),
            StepOutput(VM, "flag", "waiting", at=105.0),
            StepFinished(VM, "flag", StepStatus.APPLIED, "flag on", at=112.34),
            TargetFinished(VM, TargetOutcome.COMPLIANT, "done", at=1100.0),
            RunFinished("", {VM: TargetOutcome.COMPLIANT}, at=1100.5),
            # the next run in this process (a rollback: no RunStarted) counts from its start
            StepStarted(VM, "undo", "Undo", "reversible", at=2000.0),
            StepFinished(VM, "undo", StepStatus.APPLIED, "flag off", at=2003.0),
        )
    ]
    assert lines == [
        "[   0.0s] run r1 (correlation id c1)",
        "[   0.3s] [vm1] Set the flag ...",
        "[   5.0s] [vm1]   waiting",
        "[  12.3s] [vm1] flag: applied: flag on",
        "[1000.0s] [vm1] => compliant: done",
        None,
        "[   0.0s] [vm1] Undo ...",
        "[   3.0s] [vm1] undo: applied: flag off",
    ]


def test_json_summary_has_before_after_facts_times_and_versions() -> None:
    report = RunReport()
    report.compute_api = "2025-04-01"
    for event in (
        RunStarted("", "r1", "c1", (VM,), at=10.0, wall_time=1_790_000_000.0),
        StepStarted(VM, "flag", "Set the flag", "reversible", at=11.0),
        StepFinished(VM, "flag", StepStatus.SKIPPED, "flag already on", at=11.5),
        StepStarted(VM, "agent", "Update the agent", "reversible", at=12.0),
        StepFinished(
            VM,
            "agent",
            StepStatus.APPLIED,
            "agent 2.14.0.1 Ready",
            before="agent 2.7.0.6, auto-update off",
            at=15.25,
        ),
        StepStarted(VM, "reboot", "Reboot", "disruptive", at=16.0),
        StepFinished(VM, "reboot", StepStatus.FAILED, "timed out", at=17.0),
        RunFinished("", {VM: TargetOutcome.FAILED}, at=20.0, wall_time=1_790_000_010.0),
    ):
        report.add(event)
    doc = json.loads(report.to_json())
    assert doc["versions"] == {"fipswizard": __version__, "compute_api": "2025-04-01"}
    assert doc["started"] == "2026-09-21T14:13:20+00:00" and doc["duration_s"] == 10.0
    steps = {s["id"]: s for s in doc["targets"][0]["steps"]}
    assert steps["flag"]["before"] == steps["flag"]["after"] == "flag already on"
    assert steps["agent"]["before"] == "agent 2.7.0.6, auto-update off"  # the check's state
    assert steps["agent"]["after"] == "agent 2.14.0.1 Ready"
    assert steps["reboot"]["after"] is None and steps["reboot"]["risk"] == "disruptive"
    assert steps["agent"]["started_s"] == 2.0 and steps["agent"]["duration_s"] == 3.25
    assert steps["agent"]["title"] == "Update the agent"


def test_run_logger_records_a_run_that_stopped(caplog: pytest.LogCaptureFixture) -> None:
    record = RunLogger("apply", "recipe=r.toml journal=j.jsonl")
    with caplog.at_level(logging.INFO, logger="fipswizard.run"):
        record.start("r1", "c1", [VM])
        record(StepStarted(VM, "flag", "Set the flag", "reversible", at=1.0))
        record(StepFinished(VM, "flag", StepStatus.FAILED, "boom\nsecond line", "retry", at=3.5))
        record.failed(KeyboardInterrupt())
    lines = [r.getMessage() for r in caplog.records]
    assert lines[1] == f"step {VM} flag: failed in 2.500s: boom / second line (what to do: retry)"
    assert lines[-1] == "run end: apply run=r1 stopped: KeyboardInterrupt"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[SandboxProc]:
    proc = SandboxProc(tmp_path)
    yield proc
    proc.stop()


def test_cli_apply_offers_the_evidence_command_runnable_as_printed(
    sandbox: SandboxProc, tmp_path: Path
) -> None:
    recipe = write_recipe(tmp_path / "r.toml", [(DEMO_SUB, "fips-demo", "ubuntu2204-fipsimage")])
    state = tmp_path / "state"
    env = cli_env(sandbox.url, state=str(state))
    out = fipswizard(["apply", str(recipe), "--yes"], env, tmp_path)
    assert out.returncode == 0, out.stderr
    assert re.search(r"^\[ +\d+\.\ds\] \[ubuntu2204-fipsimage\] ", out.stderr, re.M), out.stderr
    journal = tmp_path / "r.journal.jsonl"
    found = re.search(r"^next: (fipswizard .*)$", out.stderr, re.M)
    assert found, out.stderr
    argv = shlex.split(found.group(1))
    assert argv[-4:] == ["evidence", str(journal), "-o", str(evidence_dir(journal))]
    made = fipswizard(argv[1:], env, tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "r.journal.evidence" / "SHA256SUMS").is_file()
    log = (state / "fipswizard" / "fipswizard.log").read_text()
    assert "run start: apply" in log and "run end: apply" in log and "exit=0" in log
