"""Retry timing for the ARM client: Retry-After, backoff with full jitter, throttle gates.

A throttle gate holds every request of one kind (reads or writes) on one subscription once
ARM answers 429, until its Retry-After has passed: ARM's token buckets are per subscription,
so other requests sent meanwhile would only be refused too and push the deadline further.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

RETRY_AFTER_CAP = 60.0
GATE_JITTER = 0.1  # spread the writers released by one gate over at most 100 ms
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
# Failures where the request never left this machine, so even a POST may be sent again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/?#]+)", re.IGNORECASE)


def retry_after(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds to wait from retry-after-ms / x-ms-retry-after-ms / Retry-After; capped at 60."""
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001)):
        value = headers.get(name)
        if value:
            try:
                return _clamp(float(value) * scale)
            except ValueError:
                pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _clamp(float(value))
    except ValueError:
        pass
    try:  # an HTTP date
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None
    return _clamp(when - (time.time() if now is None else now))


def _clamp(seconds: float) -> float:
    if seconds != seconds:  # NaN
        return 0.0
    return max(0.0, min(RETRY_AFTER_CAP, seconds))


def backoff(failures: int, cap: float, rng: random.Random) -> float:
    """Capped exponential backoff with full jitter: uniform(0, min(cap, 2**(failures-1)))."""
    return rng.uniform(0.0, min(cap, 2.0 ** max(0, failures - 1)))


def gate_key(url: str, method: str) -> tuple[str, str]:
    """(subscription id or "" for tenant-level calls, "read" | "write")."""
    match = _SUBSCRIPTION.match(urlsplit(url).path)
    kind = "read" if method in ("GET", "HEAD") else "write"
    return (match.group(1).lower() if match else "", kind)


class ThrottleGates:
    """One deadline per (subscription, read|write); requests wait for it before sending."""

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random,
        jitter: float = GATE_JITTER,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._rng = rng
        self._jitter = jitter
        self._open_at: dict[tuple[str, str], float] = {}

    def hold(self, key: tuple[str, str], seconds: float) -> None:
        """Close the gate for `seconds` from now (never shortens an existing hold)."""
        until = self._clock() + seconds
        if until > self._open_at.get(key, 0.0):
            self._open_at[key] = until

    def closed_for(self, key: tuple[str, str]) -> float:
        return max(0.0, self._open_at.get(key, 0.0) - self._clock())

    async def wait(self, key: tuple[str, str]) -> float:
        """Wait until the gate is open; return the seconds waited (by the clock)."""
        start = self._clock()
        # Loop: a request sent by a waiter released earlier may have closed the gate again.
        while (delay := self.closed_for(key)) > 0:
            await self._sleep(delay + self._rng.uniform(0.0, self._jitter))
        return self._clock() - start
