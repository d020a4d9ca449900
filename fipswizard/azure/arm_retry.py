"""Retry timing for the ARM client: Retry-After, backoff with full jitter, throttle gates.

A throttle gate holds every request of one kind (reads or writes) on one subscription once
ARM answers 429, until its Retry-After has passed: ARM's token buckets are per subscription,
so other requests sent meanwhile would only be refused too and push the deadline further.
Once ARM has said how many requests its bucket has left (`x-ms-ratelimit-remaining-
subscription-reads|writes`, on every answer), the gate keeps a copy of that bucket, refilled
at ARM's documented rate, and sends only what it holds: a fleet's writes then go at the
bucket's pace instead of meeting a 429 each and waiting out a whole-second Retry-After.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
# ARM refills each subscription's buckets at 25 reads/s and 10 writes/s (deletes: 10/s, in a
# bucket of their own that the write gate's copy only underestimates) and reports what is left
# on each answer (Microsoft Learn, azure-resource-manager/management/
# request-limits-and-throttling, 2024 token buckets; reference/azure-platform.md section 6).
REFILL = {"read": 25.0, "write": 10.0}
TOKEN_MARGIN = 0.05  # of a token: a request paced to its token arrives just after it
FIRST_ANSWER_POLL = 0.02  # seconds between looks for a gate's first answer
REMAINING = {
    "read": "x-ms-ratelimit-remaining-subscription-reads",
    "write": "x-ms-ratelimit-remaining-subscription-writes",
}


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


@dataclass
class _Bucket:
    """The gate's copy of one ARM bucket: `level` tokens at `at`, never more than `most` (the
    largest count ARM has reported: its bucket holds at least that many)."""

    level: float
    at: float
    most: float

    def refill(self, now: float, rate: float) -> None:
        self.level = min(self.most, self.level + (now - self.at) * rate)
        self.at = max(self.at, now)


class ThrottleGates:
    """One deadline per (subscription, read|write); requests wait for it before sending, and
    for a token of the gate's copy of ARM's bucket once ARM has reported one (`answered`)."""

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
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._in_flight: dict[tuple[str, str], int] = {}  # sent, not answered yet
        self._waiting: dict[tuple[str, str], int] = {}  # holding a token still to come
        self._answered: set[tuple[str, str]] = set()

    def hold(self, key: tuple[str, str], seconds: float) -> None:
        """Close the gate for `seconds` from now (never shortens an existing hold): ARM said
        429, so its bucket is empty now, and while the gate is shut it fills no further than
        it holds. The copy is set to that, less the tokens the waiters already hold and those
        of the requests in flight (each is given back if it meets a 429 too)."""
        now = self._clock()
        until = now + seconds
        if until > self._open_at.get(key, 0.0):
            self._open_at[key] = until
        bucket = self._buckets.get(key)
        if bucket is not None:
            rate = REFILL[key[1]]
            bucket.refill(now, rate)
            taken = self._waiting.get(key, 0) + self._in_flight.get(key, 0)
            held = min(0.0, bucket.most - seconds * rate) - taken
            bucket.level = min(bucket.level, held)

    def closed_for(self, key: tuple[str, str]) -> float:
        return max(0.0, self._open_at.get(key, 0.0) - self._clock())

    async def wait(self, key: tuple[str, str]) -> float:
        """Wait until the gate is open and, once ARM's bucket is known, for a token of the copy:
        taken at once, though it may be one still to come (the level goes below zero), so each
        waiter sleeps once, until its own token. Returns the seconds waited (by the clock)."""
        start = self._clock()
        reserved = False
        # Loop: a request sent by a waiter released earlier may have closed the gate again.
        while True:
            if (delay := self.closed_for(key)) > 0:
                await self._sleep(delay + self._rng.uniform(0.0, self._jitter))
                continue
            if self._in_flight.get(key) and key not in self._answered:
                # The gate's first request is out: its answer may say what the bucket holds,
                # where a burst sent blind would meet 429s and a whole-second Retry-After.
                await self._sleep(FIRST_ANSWER_POLL)
                continue
            bucket = self._buckets.get(key)
            if reserved or bucket is None:
                return self._clock() - start
            rate = REFILL[key[1]]
            bucket.refill(self._clock(), rate)
            bucket.level -= 1
            reserved = True
            if bucket.level < 0:  # a little past its token's time: both clocks round
                self._waiting[key] = self._waiting.get(key, 0) + 1
                try:
                    await self._sleep((TOKEN_MARGIN - bucket.level) / rate)
                finally:
                    self._waiting[key] -= 1

    def sent(self, key: tuple[str, str]) -> None:
        """A request is on its way; `answered` follows, whatever becomes of it."""
        self._in_flight[key] = self._in_flight.get(key, 0) + 1

    def answered(self, key: tuple[str, str], status: int, headers: httpx.Headers | None) -> None:
        """A request `sent` was answered (`headers` None: it failed without an answer).

        The first report starts the copy: what ARM says is left, less the requests in flight
        (it may not count them yet). After that the copy keeps its own account, a token per
        request sent and the documented refill: ARM's count is rounded down and may or may not
        include the requests in flight, so it only lowers the copy when the copy is above it
        even so (another client spends the same bucket, or the refill is slower). A 429 spent
        no token: it is given back (`hold` then empties the copy)."""
        self._in_flight[key] -= 1
        self._answered.add(key)
        bucket = self._buckets.get(key)
        if headers is None:
            return
        now = self._clock()
        if status == 429 and bucket is not None:
            bucket.level += 1
            return
        left = _number(headers.get(REMAINING[key[1]], ""))
        if left is None:
            return
        if bucket is None:
            self._buckets[key] = _Bucket(left - self._in_flight[key], now, max(left, 1.0))
            return
        bucket.refill(now, REFILL[key[1]])
        bucket.most = max(bucket.most, left)
        bucket.level = min(bucket.level, left + 1)
