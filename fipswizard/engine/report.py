"""The run model both front ends read: one object folds the event stream once.

`RunReport` owns, per target, the outcome, step statuses, durations, diagnoses, findings and
the current wait's fraction; for the run, its ids, start and end times and the exit code. The
headless summary and JSON, the progress lines and the TUI's run, validation and summary
screens all read it (the TUI's `RunRecord` adds only the operator's answers).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fipswizard import __version__
from fipswizard.context import TargetKey, key_name
from fipswizard.engine.events import (
    DONE,
    Diagnosed,
    Event,
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
from fipswizard.errors import ADVICE_SEP, ExitCode

RUNNING = "running"  # a step's status between StepStarted and StepFinished


@dataclass
class StepSummary:
    step_id: str
    title: str
    risk: str
    status: str = RUNNING  # a StepStatus once finished
    detail: str = ""
    advice: str = ""
    code: str = ""
    started_at: float | None = None  # the engine's monotonic clock
    finished_at: float | None = None
    role: StepRole = StepRole.CHANGE  # declared by the step's class, from StepStarted

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    checked: str = ""  # an applied step's check state just before its write

    @property
    def before(self) -> str | None:
        """The check's state before the run: a skipped step's detail is its check's (nothing
        changed); an applied step carries its check's state on StepFinished."""
        if self.status == StepStatus.SKIPPED:
            return self.detail
        return self.checked or None

    @property
    def after(self) -> str | None:
        """The verified state after the step: the verify's detail of an applied step, the
        unchanged check state of a skipped one; None for a step that did not complete."""
        return self.detail if self.status in (StepStatus.APPLIED, StepStatus.SKIPPED) else None

    @property
    def is_validation(self) -> bool:
        return self.role in (StepRole.VALIDATION, StepRole.FIX)

    @property
    def is_fix(self) -> bool:
        return self.role is StepRole.FIX


@dataclass
class TargetSummary:
    key: str
    outcome: TargetOutcome | None = None
    detail: str = ""
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    advice: str = ""
    steps: dict[str, StepSummary] = field(default_factory=dict)
    current: str = ""  # the step running now ("" between steps and at the end)
    diagnoses: list[Diagnosed] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    last_output: str = ""
    wait_fraction: float | None = None  # how far the current wait is (None: not waiting)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def name(self) -> str:
        """The VM name (or a short subscription id) for a line a person reads."""
        return key_name(self.key)

    @property
    def is_vm(self) -> bool:
        """A VM's row, not a subscription's unit (feature registration)."""
        return TargetKey.parse(self.key).is_vm

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)

    def validation(self) -> list[StepSummary]:
        return [s for s in self.steps.values() if s.is_validation]

    @property
    def warnings(self) -> list[str]:
        """Findings worth a look (warnings and refusals), as lines."""
        return [f"{f.level}: {f.text}" for f in self.findings if f.level in ("warning", "refusal")]


def _iso(wall: float | None) -> str | None:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="seconds") if wall else None


def _secs(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class RunReport:
    """Folds engine events, once, into everything a front end shows about a run."""

    def __init__(self) -> None:
        self.targets: dict[str, TargetSummary] = {}
        # The gate's message when approval was missing (exit 4): what to approve, per VM.
        self.gate_refused: str | None = None
        self.run_id = ""
        self.correlation_id = ""
        self.started: float | None = None  # wall clock (epoch seconds)
        self.ended: float | None = None
        self.started_at: float | None = None  # the engine's monotonic clock
        self.ended_at: float | None = None
        self.finished = False
        self.steps_done = 0
        self.compute_api = ""  # the Compute api-version the run used (set by the session)

    def target(self, key: str) -> TargetSummary:
        return self.targets.setdefault(key, TargetSummary(key))

    def add(self, event: Event) -> TargetSummary | None:
        """Fold one event; returns the target it changed (None for run-level events)."""
        if isinstance(event, RunStarted):
            self.run_id, self.correlation_id = event.run_id, event.correlation_id
            self.started, self.started_at = event.wall_time or None, event.at
            return None
        if isinstance(event, RunFinished):
            self.finished = True
            self.ended, self.ended_at = event.wall_time or None, event.at
            return None
        if not event.target:
            return None
        t = self.target(event.target)
        if t.started_at is None:
            t.started_at = event.at
        if isinstance(event, StepStarted):
            t.steps[event.step_id] = StepSummary(
                event.step_id, event.title, event.risk, started_at=event.at, role=event.role
            )
            t.current, t.wait_fraction = event.step_id, None
        elif isinstance(event, StepOutput):
            t.last_output, t.wait_fraction = event.text, event.fraction
        elif isinstance(event, Diagnosed):
            t.diagnoses.append(event)
        elif isinstance(event, Finding):
            t.findings.append(event)
        elif isinstance(event, StepFinished):
            self._step_finished(t, event)
        elif isinstance(event, TargetFinished):
            t.outcome, t.detail, t.current = event.outcome, event.detail, ""
            t.finished_at, t.wait_fraction = event.at, None
        return t

    def _step_finished(self, t: TargetSummary, event: StepFinished) -> None:
        step = t.steps.setdefault(event.step_id, StepSummary(event.step_id, event.step_id, ""))
        step.status, step.detail = event.status, event.detail
        step.advice, step.code, step.finished_at = event.advice, event.code, event.at
        step.checked = event.before
        bucket = {StepStatus.APPLIED: t.applied, StepStatus.SKIPPED: t.skipped}.get(
            event.status, t.failed
        )
        bucket.append(event.step_id)
        if event.advice:
            t.advice = event.advice
        t.wait_fraction = None
        self.steps_done += 1

    def diagnosis(self, target: str) -> Diagnosed | None:
        line = self.targets.get(target)
        return line.diagnoses[-1] if line and line.diagnoses else None

    @property
    def ok(self) -> bool:
        return all(t.outcome in DONE for t in self.targets.values())

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)

    def outcomes(self) -> dict[str, str]:
        return {k: str(t.outcome) for k, t in self.targets.items()}

    def exit_code(self) -> int:
        return exit_code(self)

    def _offset(self, at: float | None) -> float | None:
        """Seconds since the run started (the engine's monotonic clock)."""
        if at is None or self.started_at is None:
            return None
        return _secs(max(0.0, at - self.started_at))

    def to_json(self) -> str:
        rows: list[dict[str, Any]] = [
            {
                "target": t.key,
                "outcome": str(t.outcome),
                "detail": t.detail,
                "applied": t.applied,
                "skipped": t.skipped,
                "failed": t.failed,
                "advice": t.advice,
                "duration_s": _secs(t.duration),
                "steps": [
                    {
                        "id": s.step_id,
                        "title": s.title,
                        "risk": s.risk,
                        "status": str(s.status),
                        "started_s": self._offset(s.started_at),
                        "duration_s": _secs(s.duration),
                        "before": s.before,
                        "after": s.after,
                        "detail": s.detail,
                        "advice": s.advice,
                        "code": s.code,
                    }
                    for s in t.steps.values()
                ],
                "diagnoses": [
                    {
                        "step": d.step_id,
                        "cause": d.cause,
                        "explanation": d.explanation,
                        "cost": d.cost,
                        "fix": d.fix_step,
                    }
                    for d in t.diagnoses
                ],
            }
            for t in self.targets.values()
        ]
        doc: dict[str, Any] = {
            "ok": self.ok,
            "exit_code": self.exit_code(),
            "run_id": self.run_id,
            "correlation_id": self.correlation_id,
            "started": _iso(self.started),
            "ended": _iso(self.ended),
            "duration_s": _secs(self.duration),
            "versions": {"fipswizard": __version__, "compute_api": self.compute_api or None},
            "targets": rows,
        }
        if self.gate_refused:
            doc["needs_approval"] = self.gate_refused
        return json.dumps(doc, indent=2)

    def to_text(self, ok_word: str = "compliant") -> str:
        """A table a person reads; `ok_word` names success ("rolled back" for rollback)."""
        width = max((len(k) for k in self.targets), default=10)
        lines = [f"{'TARGET':<{width}}  OUTCOME               CHANGED  DETAIL"]
        for t in self.targets.values():
            word = ok_word if t.outcome is TargetOutcome.COMPLIANT else str(t.outcome)
            lines.append(f"{t.key:<{width}}  {word:<20}  {len(t.applied):>7}  {t.detail}")
            if t.advice and t.outcome is not TargetOutcome.COMPLIANT:
                lines.append(f"{'':<{width}}  what to do: {t.advice}")
        vms = [t for t in self.targets.values() if t.is_vm]
        good = sum(t.outcome in DONE for t in vms)
        lines.append(f"{good} of {len(vms)} VMs {ok_word}")
        return "\n".join(lines)


Summary = RunReport  # the name the headless code and tests used before the run model grew


class Elapsed:
    """Headless progress lines with the time since the run started, from the events' own
    `at` stamps (e.g. "[  12.3s] [vm1] Set the flag ..."). A run starts at its RunStarted, or
    at the first event after the previous run's RunFinished (a rollback has no RunStarted)."""

    def __init__(self) -> None:
        self.start: float | None = None

    def line(self, event: Event) -> str | None:
        if self.start is None or isinstance(event, RunStarted):
            self.start = event.at
        start = self.start
        if isinstance(event, RunFinished):
            self.start = None
        text = progress_line(event)
        return None if text is None else f"[{max(0.0, event.at - start):6.1f}s] {text}"


def progress_line(event: Event) -> str | None:
    """One stderr line per event worth showing in a headless run."""
    who = key_name(event.target)
    if isinstance(event, RunStarted):
        return f"run {event.run_id} (correlation id {event.correlation_id})"
    if isinstance(event, StepStarted):
        return f"[{who}] {event.title} ..."
    if isinstance(event, StepOutput):
        return f"[{who}]   {event.text}"
    if isinstance(event, Diagnosed):
        why = f"{event.explanation}{ADVICE_SEP}{event.cost}"
        return f"[{who}]   diagnosis: {why}; proposing: {event.fix}"
    if isinstance(event, Finding):
        return f"[{who}]   preflight {event.level}: {event.text}"
    if isinstance(event, StepFinished):
        tail = f"{ADVICE_SEP}{event.advice}" if event.advice else ""
        return f"[{who}] {event.step_id}: {event.status}: {event.detail}{tail}"
    if isinstance(event, TargetFinished):
        return f"[{who}] => {event.outcome}: {event.detail}"
    return None


def exit_code(summary: RunReport) -> int:
    outcomes = {t.outcome for t in summary.targets.values()}
    if summary.ok:
        return int(ExitCode.OK)
    if TargetOutcome.AUTH_FAILED in outcomes:
        return int(ExitCode.AUTH)
    if summary.gate_refused:  # nothing was written: approval is what is missing
        return int(ExitCode.NEEDS_CONFIRMATION)
    bad = outcomes - {
        TargetOutcome.COMPLIANT,
        TargetOutcome.NEEDS_CONFIRMATION,
        TargetOutcome.BLOCKED,
    }
    if not bad and TargetOutcome.NEEDS_CONFIRMATION in outcomes:
        return int(ExitCode.NEEDS_CONFIRMATION)
    return int(ExitCode.STEP_FAILED)
