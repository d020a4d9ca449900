"""The run folded from engine events: per target, its steps, outputs, diagnoses and answers.

The run screen's handlers keep one (their state); the wizard keeps another for the
validation and summary phases and for the questions' diagnosis.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fipswizard.engine.events import (
    Event,
    RunFinished,
    RunStarted,
    StepFinished,
    StepOutput,
    StepStarted,
    StepStatus,
    TargetFinished,
)

DIAGNOSIS = "diagnosis: "
# Waits report "(12s of 60s)" or "(12s; times out at 60s)"; used when no fraction is given.
_WAITED = re.compile(r"\((\d+)s(?: of|; times out at) (\d+)s\)")
VALIDATION_PREFIX = "validate-"
FIX_PREFIX = "fix-"


@dataclass(frozen=True)
class Diagnosis:
    """What validation found, what the fix costs, and which fix the engine proposes."""

    text: str
    cost: str = ""
    proposal: str = ""


def parse_diagnosis(text: str) -> Diagnosis:
    """The engine's "diagnosis: <why>\\n  what to do: <cost>; proposing: <fix>" line."""
    body, _, proposal = text.partition("; proposing: ")
    why, _, cost = body.partition("\n  what to do: ")
    return Diagnosis(why.strip(), cost.strip(), proposal.strip())


@dataclass
class StepLine:
    step_id: str
    title: str
    risk: str
    status: str = "running"
    detail: str = ""
    advice: str = ""


@dataclass
class TargetLine:
    key: str
    steps: dict[str, StepLine] = field(default_factory=dict)
    current: str = ""
    outcome: str = ""
    detail: str = ""
    diagnoses: list[Diagnosis] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    last_output: str = ""
    wait_fraction: float | None = None

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    def validation(self) -> list[StepLine]:
        return [
            s for s in self.steps.values() if s.step_id.startswith((VALIDATION_PREFIX, FIX_PREFIX))
        ]


@dataclass
class Answer:
    target: str
    question: str
    accepted: bool
    # asked | plan (answered on the confirm screen) | gate (its modal) | all (accept for all)
    how: str = "asked"


def wait_fraction(event: StepOutput) -> float | None:
    """How far a long wait is: the event's fraction, else read from "(Ns of Ms)"."""
    if event.fraction is not None:
        return event.fraction
    found = _WAITED.search(event.text)
    if found and int(found.group(2)) > 0:
        return min(1.0, int(found.group(1)) / int(found.group(2)))
    return None


class RunRecord:
    def __init__(self) -> None:
        self.targets: dict[str, TargetLine] = {}
        self.answers: list[Answer] = []
        # What the operator declined, per VM (step ids): the saved recipe records it.
        self.declined: dict[str, set[str]] = {}
        self.run_id = ""
        self.correlation_id = ""
        self.finished = False
        self.steps_done = 0

    def target(self, key: str) -> TargetLine:
        return self.targets.setdefault(key, TargetLine(key))

    def add(self, event: Event) -> TargetLine | None:
        """Fold one event; returns the target line it changed (None for run-level events)."""
        if isinstance(event, RunStarted):
            self.run_id, self.correlation_id = event.run_id, event.correlation_id
            return None
        if isinstance(event, RunFinished):
            self.finished = True
            return None
        t = self.target(event.target)
        if isinstance(event, StepStarted):
            t.steps[event.step_id] = StepLine(event.step_id, event.title, event.risk)
            t.current, t.wait_fraction = event.step_id, None
        elif isinstance(event, StepOutput):
            t.last_output, t.wait_fraction = event.text, wait_fraction(event)
            if event.text.startswith(DIAGNOSIS):
                t.diagnoses.append(parse_diagnosis(event.text.removeprefix(DIAGNOSIS)))
            elif event.text.lower().startswith(("warning", "refusal", "preflight ")):
                t.warnings.append(event.text)
        elif isinstance(event, StepFinished):
            line = t.steps.setdefault(event.step_id, StepLine(event.step_id, event.step_id, ""))
            line.status, line.detail, line.advice = str(event.status), event.detail, event.advice
            if event.status is StepStatus.DECLINED:
                self.declined.setdefault(event.target, set()).add(event.step_id)
            t.wait_fraction = None
            self.steps_done += 1
        elif isinstance(event, TargetFinished):
            t.outcome, t.detail, t.current = str(event.outcome), event.detail, ""
        return t

    def diagnosis(self, target: str) -> Diagnosis | None:
        line = self.targets.get(target)
        return line.diagnoses[-1] if line and line.diagnoses else None

    def answer(self, target: str, question: str, accepted: bool, how: str = "asked") -> None:
        self.answers.append(Answer(target, question, accepted, how))

    def asked(self) -> list[Answer]:
        """Questions put during the run (not the plan's steps approved on the confirm screen)."""
        return [a for a in self.answers if a.how != "plan"]
