"""The write gate keeps a copy of ARM's bucket from `x-ms-ratelimit-remaining-subscription-
writes` and its documented refill, so a run's writes go at the bucket's pace, not into 429s."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from fipswizard.azure.arm import ArmClient
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.sandbox import BucketSpec, FakeClock, SandboxAzure
from fipswizard.secrets import Secret
from tests.test_sandbox_faults import FEATURE, TOKEN


async def writes(spec: BucketSpec, n: int) -> tuple[list[int], float]:
    """`n` writes one after another against a sandbox bucket; (statuses, seconds taken)."""
    clock = FakeClock()

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    sandbox = SandboxAzure(clock=clock, writes=spec)
    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret(TOKEN, "t")),
        correlation_id="c",
        transport=sandbox.transport(),
        sleep=sleep,
        clock=clock,
    )
    start = clock()
    async with arm:
        for _ in range(n):
            await arm.post(FEATURE + "/register", "2021-07-01", retry_safe=True)
    statuses = [int(e["status"]) for e in sandbox.log.entries() if e["method"] == "POST"]
    return statuses, clock() - start


async def test_writes_go_at_the_buckets_pace_without_a_429() -> None:
    statuses, took = await writes(BucketSpec(burst=5, rate=10), 30)
    assert statuses == [200] * 30  # without the copy: a 429 after every 5 (burst) writes
    assert took == pytest.approx((30 - 5) / 10, abs=0.05)  # the burst, then 10 per second


async def test_a_slower_bucket_than_documented_still_meets_its_429s() -> None:
    statuses, took = await writes(BucketSpec(burst=2, rate=2), 6)
    assert statuses.count(200) == 6 and 429 in statuses  # waited out: nothing lost
    assert took >= (6 - 2) / 2


async def test_concurrent_writes_wait_for_the_first_answer_instead_of_a_blind_burst() -> None:
    class OnTheWire(httpx.AsyncBaseTransport):
        """The sandbox with 10 ms on the wire, so concurrent requests are in flight at once."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            await asyncio.sleep(0.01)
            return await inner.handle_async_request(request)

    sandbox = SandboxAzure(writes=BucketSpec(burst=5, rate=10))  # real time: 0.7 s
    inner = sandbox.transport()
    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret(TOKEN, "t")),
        correlation_id="c",
        transport=OnTheWire(),
    )
    async with arm:
        path = FEATURE + "/register"
        await asyncio.gather(*(arm.post(path, "2021-07-01", retry_safe=True) for _ in range(12)))
    statuses = [int(e["status"]) for e in sandbox.log.entries() if e["method"] == "POST"]
    assert statuses == [200] * 12  # sent blind at once, 7 of them would have met a 429
