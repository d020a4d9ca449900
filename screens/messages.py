"""Past-tense messages: workers post them, handlers own the state.

Engine events arrive wrapped one-to-one (`StepStartedMsg(event)` ...); tests assert on the
sequence through `run_test(message_hook=...)`.
"""

from __future__ import annotations

from typing import Any

from textual.message import Message

from fipswizard.engine.events import (
    Event,
    RunFinished,
    RunStarted,
    StepFinished,
    StepOutput,
    StepStarted,
    TargetFinished,
)


class EngineMsg(Message):
    """An engine event, delivered to the screen that shows the run."""

    bubble = False

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class RunStartedMsg(EngineMsg):
    pass


class StepStartedMsg(EngineMsg):
    pass


class StepOutputMsg(EngineMsg):
    pass


class StepFinishedMsg(EngineMsg):
    pass


class TargetFinishedMsg(EngineMsg):
    pass


class RunFinishedMsg(EngineMsg):
    pass


_WRAPPERS: dict[type[Event], type[EngineMsg]] = {
    RunStarted: RunStartedMsg,
    StepStarted: StepStartedMsg,
    StepOutput: StepOutputMsg,
    StepFinished: StepFinishedMsg,
    TargetFinished: TargetFinishedMsg,
    RunFinished: RunFinishedMsg,
}


def engine_message(event: Event) -> EngineMsg:
    return _WRAPPERS.get(type(event), EngineMsg)(event)


class PhaseEntered(Message):
    """The wizard moved on: `phase` is a commands.SCREENS id, `status` what it is doing."""

    def __init__(self, phase: str, status: str, busy: bool = False) -> None:
        super().__init__()
        self.phase, self.status, self.busy = phase, status, busy


class ListedMsg(Message):
    """Base of the inventory answers; `key` says which request (stale answers are dropped)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


class SubscriptionsListed(ListedMsg):
    def __init__(self, key: str, items: list[dict[str, Any]]) -> None:
        super().__init__(key)
        self.items = items


class GroupsListed(ListedMsg):
    def __init__(self, key: str, items: list[dict[str, Any]]) -> None:
        super().__init__(key)
        self.items = items


class VmsListed(ListedMsg):
    def __init__(self, key: str, rows: list[dict[str, str]]) -> None:
        super().__init__(key)
        self.rows = rows


class ListingFailed(ListedMsg):
    def __init__(self, key: str, error: BaseException) -> None:
        super().__init__(key)
        self.error = error


class RunEnded(Message):
    """The engine worker ended: `how` is finished | cancelled | failed; the journal has the rest."""

    bubble = False

    def __init__(self, how: str, text: str) -> None:
        super().__init__()
        self.how, self.text = how, text


class RecipeSaved(Message):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path


class Notice(Message):
    """A short notification for the operator (shown as a toast by the app)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
