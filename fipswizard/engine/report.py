"""The run model both front ends read: the per-VM summary, progress lines and the exit code."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fipswizard.engine.events import (
    DONE,
    Event,
    RunStarted,
    StepFinished,
    StepOutput,
    StepStarted,
    StepStatus,
    TargetFinished,
    TargetOutcome,
)
from fipswizard.errors import ExitCode


@dataclass
class TargetSummary:
    key: str
    outcome: TargetOutcome | None = None
    detail: str = ""
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    advice: str = ""


class Summary:
    """Folds engine events into one line of outcome per target."""

    def __init__(self) -> None:
        self.targets: dict[str, TargetSummary] = {}
        # The gate's message when approval was missing (exit 4): what to approve, per VM.
        self.gate_refused: str | None = None

    def add(self, event: Event) -> None:
        if not event.target:
            return
        t = self.targets.setdefault(event.target, TargetSummary(event.target))
        if isinstance(event, StepFinished):
            bucket = {StepStatus.APPLIED: t.applied, StepStatus.SKIPPED: t.skipped}.get(
                event.status, t.failed
            )
            bucket.append(event.step_id)
            if event.advice:
                t.advice = event.advice
        elif isinstance(event, TargetFinished):
            t.outcome, t.detail = event.outcome, event.detail

    @property
    def ok(self) -> bool:
        return all(t.outcome in DONE for t in self.targets.values())

    def outcomes(self) -> dict[str, str]:
        return {k: str(t.outcome) for k, t in self.targets.items()}

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
            }
            for t in self.targets.values()
        ]
        doc: dict[str, Any] = {"ok": self.ok, "targets": rows}
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
        vms = [t for t in self.targets.values() if not t.key.startswith("subscription:")]
        good = sum(t.outcome in DONE for t in vms)
        lines.append(f"{good} of {len(vms)} VMs {ok_word}")
        return "\n".join(lines)


def progress_line(event: Event) -> str | None:
    """One stderr line per event worth showing in a headless run."""
    who = event.target.rsplit("/", 1)[-1] if event.target else ""
    if isinstance(event, RunStarted):
        return f"run {event.run_id} (correlation id {event.correlation_id})"
    if isinstance(event, StepStarted):
        return f"[{who}] {event.title} ..."
    if isinstance(event, StepOutput):
        return f"[{who}]   {event.text}"
    if isinstance(event, StepFinished):
        tail = ""
        if event.advice and event.advice not in event.detail:
            tail = f"\n[{who}]   what to do: {event.advice}"
        return f"[{who}] {event.step_id}: {event.status}: {event.detail}{tail}"
    if isinstance(event, TargetFinished):
        return f"[{who}] => {event.outcome}: {event.detail}"
    return None


def exit_code(summary: Summary) -> int:
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
