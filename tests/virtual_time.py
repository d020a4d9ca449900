"""Virtual time for step waits: `Context(clock=vt.clock, sleep=vt.sleep)` makes a 15-minute
wait take no wall-clock time, while the event loop still turns at every sleep."""

from __future__ import annotations

import asyncio


class VirtualTime:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept = 0.0  # virtual seconds the code under test waited

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds
        await asyncio.sleep(0)
