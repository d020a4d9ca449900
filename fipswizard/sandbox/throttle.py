"""ARM-style per-subscription token buckets (reads and writes counted separately).

A bucket with `retry_after` set models ARM's longer throttling windows: once empty it refuses
every request for that many seconds, and a request sent before the window ends "isn't
processed and a new retry value is returned" (Microsoft Learn, "Understand how Azure Resource
Manager throttles requests", Retry-After section), i.e. the remaining time, not a fresh window.
Compute's own policies run over minutes (e.g. 3 and 30 min windows), hence e.g. 120 s.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class BucketSpec:
    burst: float
    rate: float  # tokens per second
    retry_after: float = 0.0  # > 0: once empty, refuse everything this long (a long 429)


# ARM's documented subscription defaults (request-limits-and-throttling, 2024 token buckets).
DEFAULT_READS = BucketSpec(burst=250, rate=25)
DEFAULT_WRITES = BucketSpec(burst=200, rate=10)


class TokenBucket:
    def __init__(self, spec: BucketSpec, now: float) -> None:
        self.spec = spec
        self.tokens = float(spec.burst)
        self._last = now
        self._blocked_until = float("-inf")

    def _refill(self, now: float) -> None:
        if now > self._last:
            self.tokens = min(self.spec.burst, self.tokens + (now - self._last) * self.spec.rate)
        self._last = max(self._last, now)

    def take(self, now: float) -> float | None:
        """Take one token; None on success, else the seconds the client must wait."""
        if now < self._blocked_until:
            return self._blocked_until - now
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        if self.spec.retry_after > 0:
            self._blocked_until = now + self.spec.retry_after
            return self.spec.retry_after
        if self.spec.rate <= 0:
            return 3600.0
        return (1 - self.tokens) / self.spec.rate

    def remaining(self) -> int:
        return max(0, int(self.tokens))


class Throttle:
    """Buckets keyed by (subscription, "reads"|"writes"), created full on first use."""

    def __init__(
        self, reads: BucketSpec = DEFAULT_READS, writes: BucketSpec = DEFAULT_WRITES
    ) -> None:
        self.specs = {"reads": reads, "writes": writes}
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def bucket(self, subscription: str, kind: str, now: float) -> TokenBucket:
        key = (subscription.lower(), kind)
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(self.specs[kind], now)
        return self._buckets[key]

    def configure(
        self,
        kind: str,
        *,
        burst: float | None = None,
        rate: float | None = None,
        retry_after: float | None = None,
    ) -> None:
        spec = self.specs[kind]
        self.specs[kind] = BucketSpec(
            burst if burst is not None else spec.burst,
            rate if rate is not None else spec.rate,
            retry_after if retry_after is not None else spec.retry_after,
        )
        for (_, k), bucket in self._buckets.items():
            if k == kind:
                bucket.spec = self.specs[kind]
                bucket.tokens = min(bucket.tokens, bucket.spec.burst)
