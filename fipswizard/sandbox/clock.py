"""Time for the sandbox: an injectable clock and an event scheduler driven by it.

Nothing runs in the background. Every request first calls `Scheduler.settle(now)`, which
fires, in time order, each event whose time has come. So with a `FakeClock` a test
decides exactly when an operation finishes, and with `time.monotonic` the server behaves
like a slow cloud without any timer tasks.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

Clock = Callable[[], float]
EventFn = Callable[[float], None]  # receives the event's own time, not "now"


class FakeClock:
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass(order=True)
class _Event:
    at: float
    seq: int
    fn: EventFn = field(compare=False)


class Scheduler:
    """A heap of timed callbacks, fired lazily by `settle`."""

    def __init__(self) -> None:
        self._heap: list[_Event] = []
        self._seq = itertools.count()

    def at(self, when: float, fn: EventFn) -> None:
        heapq.heappush(self._heap, _Event(when, next(self._seq), fn))

    def settle(self, now: float) -> None:
        # Callbacks may schedule more events; those due by `now` fire in this same call.
        while self._heap and self._heap[0].at <= now:
            event = heapq.heappop(self._heap)
            event.fn(event.at)

    def pending(self) -> int:
        return len(self._heap)
