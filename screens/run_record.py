"""The TUI's view of a run: the engine's run model plus the operator's answers.

Everything about targets (steps, outcomes, durations, diagnoses, waits) is folded once by
`fipswizard.engine.report.RunReport`; this adds only what the TUI itself learns: the answers
given on its screens and what was declined (the saved recipe records it).
"""

from __future__ import annotations

from dataclasses import dataclass

from fipswizard.engine.events import Diagnosed, Event, StepFinished, StepStatus
from fipswizard.engine.report import RunReport, StepSummary, TargetSummary

# The engine's typed names under the names the screens use.
Diagnosis = Diagnosed
StepLine = StepSummary
TargetLine = TargetSummary


@dataclass
class Answer:
    target: str
    question: str
    accepted: bool
    # asked | plan (answered on the confirm screen) | gate (its modal) | all (accept for all)
    how: str = "asked"


class RunRecord:
    def __init__(self, report: RunReport | None = None) -> None:
        # A report another consumer already folds (e.g. the run feed's) is read, not folded
        # again: `add` then records only the TUI's own facts.
        self.owns_report = report is None
        self.report = report if report is not None else RunReport()
        self.answers: list[Answer] = []
        # What the operator declined, per VM (step ids): the saved recipe records it.
        self.declined: dict[str, set[str]] = {}

    @property
    def targets(self) -> dict[str, TargetSummary]:
        return self.report.targets

    @property
    def run_id(self) -> str:
        return self.report.run_id

    @property
    def correlation_id(self) -> str:
        return self.report.correlation_id

    @property
    def finished(self) -> bool:
        return self.report.finished

    @property
    def steps_done(self) -> int:
        return self.report.steps_done

    def target(self, key: str) -> TargetSummary:
        return self.report.target(key)

    def add(self, event: Event) -> TargetSummary | None:
        """Fold one event; returns the target line it changed (None for run-level events)."""
        line = self.report.add(event) if self.owns_report else self.targets.get(event.target)
        if isinstance(event, StepFinished) and event.status is StepStatus.DECLINED:
            self.declined.setdefault(event.target, set()).add(event.step_id)
        return line

    def diagnosis(self, target: str) -> Diagnosed | None:
        return self.report.diagnosis(target)

    def answer(self, target: str, question: str, accepted: bool, how: str = "asked") -> None:
        self.answers.append(Answer(target, question, accepted, how))

    def asked(self) -> list[Answer]:
        """Questions put during the run (not the plan's steps approved on the confirm screen)."""
        return [a for a in self.answers if a.how != "plan"]
