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

# LRO poll spacing (reference arm-conformance.md D2). ARM's async contract
# (azure-resource-manager-rpc v1.0/async-api-reference.md) tells clients to wait Retry-After and
# defaults to 60 s; azure-mgmt-compute polls every 30 s. Without a hint we poll every 15 s: half
# that wait for an operator watching a few VMs, and 8 VMs polling at 15 s stay near 0.5 reads/s,
# far below the 25/s refill of ARM's read bucket. The floor is only a busy-loop guard (at most
# 10 polls/s for one operation): azure-core has none and honours retry-after-ms exactly.
# Compute answers in whole seconds (Retry-After), so against it the effective minimum is 1 s,
# and a hint of 0 means "no hint" (the 15 s default), as in azure-core. Only a server that asks
# in milliseconds gets below a second: the sandbox does, for its sub-second simulated operations.
POLL_DEFAULT = 15.0
POLL_FLOOR = 0.1
POLL_CAP = 60.0
GATE_JITTER = 0.1  # spread the writers released by one gate over at most 100 ms
RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
# Failures where the request never left this machine, so even a POST may be sent again.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)

_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/?#]+)", re.IGNORECASE)


def retry_after(headers: httpx.Headers, *, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, uncapped; None when it did not say (or said nonsense).

    Precedence as azure-core does it (azure-core `azure/core/pipeline/policies/_utils.py`,
    `get_retry_after`, read via the search tool): `Retry-After` first (integer seconds or an
    HTTP date), then `retry-after-ms`, then `x-ms-retry-after-ms`; a date in the past is 0.
    Not capped: a 429's Retry-After is the earliest moment ARM will process the request at all
    (ARM throttling doc: a request sent before it "isn't processed and a new retry value is
    returned"), so waiting less only buys another 429.
    """
    value = headers.get("retry-after")
    if value:
        seconds = _number(value)
        if seconds is not None:
            return seconds
        try:  # an HTTP date
            when = parsedate_to_datetime(value.strip()).timestamp()
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None:
            return max(0.0, when - (time.time() if now is None else now))
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        seconds = _number(value) if value else None
        if seconds is not None:
            return seconds / 1000.0
    return None


def _number(text: str) -> float | None:
    try:
        seconds = float(text.strip())
    except ValueError:
        return None
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def poll_delay(
    headers: httpx.Headers,
    *,
    default: float = POLL_DEFAULT,
    floor: float = POLL_FLOOR,
    cap: float = POLL_CAP,
) -> float:
    """Seconds before the next poll of a long-running operation.

    No hint, or a hint of 0, means `default`: azure-core's base_polling `_extract_delay` falls
    back to its polling interval the same way (`if delay: return delay`). A hint is kept
    between `floor` and `cap`.
    """
    hint = retry_after(headers)
    if not hint:
        return default
    return min(cap, max(floor, hint))


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
