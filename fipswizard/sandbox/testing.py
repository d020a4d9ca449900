"""Helpers for code that drives the sandbox in-process (tests, the demo, benchmarks)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import httpx

from fipswizard.sandbox.clock import FakeClock

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

ARM = "https://management.azure.com"
COMPUTE_API = "2024-11-01"
TERMINAL = ("Succeeded", "Failed", "Canceled")


def arm_client(
    sandbox: SandboxAzure, *, token: str = "sandbox-token", base_url: str = ARM
) -> httpx.AsyncClient:
    """An httpx client wired to `sandbox` in-process, with a bearer token."""
    return httpx.AsyncClient(
        transport=sandbox.transport(),
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
    )


def vm_path(subscription: str, group: str, vm: str) -> str:
    return (
        f"/subscriptions/{subscription}/resourceGroups/{group}/providers/Microsoft.Compute"
        f"/virtualMachines/{vm}"
    )


async def wait_operation(
    client: httpx.AsyncClient,
    started: httpx.Response,
    clock: FakeClock | None = None,
    *,
    use_location: bool = False,
    max_polls: int = 200,
) -> httpx.Response:
    """Poll an LRO to its end, honouring Retry-After: a FakeClock is advanced instead of
    sleeping. Polls Azure-AsyncOperation unless `use_location` (or it is absent)."""
    url = started.headers.get("Azure-AsyncOperation")
    if use_location or url is None:
        url = started.headers["Location"]
        use_location = True
    for _ in range(max_polls):
        resp = await client.get(url)
        if use_location and resp.status_code != 202:
            return resp
        if not use_location and resp.json().get("status") in TERMINAL:
            return resp
        delay = max(1, int(resp.headers.get("Retry-After", "1")))
        if clock is not None:
            clock.advance(delay)
        else:
            await asyncio.sleep(delay)
    raise TimeoutError(f"operation at {url} did not finish after {max_polls} polls")
