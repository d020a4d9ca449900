"""Following ARM long-running operations to their end (reference azure-platform.md 1.4).

Azure-AsyncOperation is preferred (status InProgress/Succeeded/Failed/Canceled), else
Location (202 while running, 200 when done), else the resource's own provisioningState.
Polls wait for Retry-After (1 s when absent, at most 60 s).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fipswizard.azure.arm_errors import ArmError, operation_error, timed_out
from fipswizard.azure.arm_response import ArmResponse, provisioning_state
from fipswizard.azure.arm_retry import retry_after

Progress = Callable[[str], None]
Get = Callable[[str], Awaitable[ArmResponse]]
TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}
FAILED = {"failed", "canceled", "cancelled"}
DEFAULT_POLL = 1.0  # seconds between polls when ARM sends no Retry-After


def is_running(first: ArmResponse) -> bool:
    """Did this answer start an operation that is not finished yet?"""
    state = provisioning_state(first.body)
    if first.status == 202:
        return True
    if first.status in (200, 201) and state is not None:
        return state.lower() not in TERMINAL
    has_monitor = "azure-asyncoperation" in first.headers or "location" in first.headers
    return first.status == 201 and has_monitor


class LroFollower:
    """Polls with `get` (a retried, throttle-gated GET); `trusted` vets URLs from headers."""

    def __init__(
        self,
        get: Get,
        sleep: Callable[[float], Awaitable[None]],
        clock: Callable[[], float],
        timeout: float,
        trusted: Callable[[str], str],
    ) -> None:
        self._get = get
        self._sleep = sleep
        self._clock = clock
        self._timeout = timeout
        self._trusted = trusted

    async def follow(
        self, method: str, url: str, first: ArmResponse, progress: Progress | None
    ) -> ArmResponse:
        """The final resource (PUT/PATCH) or final body (POST/DELETE) once the op ends."""
        if not is_running(first):
            return first
        op_url = first.headers.get("azure-asyncoperation")
        location = first.headers.get("location")
        wait = retry_after(first.headers)
        if op_url:
            status = await self._poll(op_url, wait, progress, operation_done)
            if method in ("PUT", "PATCH"):
                return await self._get(url)
            if method == "POST" and location:
                return await self._get(self._trusted(location))
            return status
        if location:
            final = await self._poll(location, wait, progress, location_done)
            return await self._get(url) if method in ("PUT", "PATCH") else final
        if method in ("PUT", "PATCH") and provisioning_state(first.body) is not None:
            return await self._poll(url, wait, progress, resource_done)
        return first

    async def _poll(
        self,
        poll_url: str,
        wait: float | None,
        progress: Progress | None,
        done: Callable[[ArmResponse], tuple[bool, str]],
    ) -> ArmResponse:
        poll_url = self._trusted(poll_url)
        start = self._clock()
        last = "Accepted"
        while True:
            remaining = self._timeout - (self._clock() - start)
            if remaining <= 0:
                raise timed_out(poll_url, self._clock() - start, last)
            await self._sleep(min(DEFAULT_POLL if wait is None else wait, remaining))
            response = await self._get(poll_url)
            finished, last = done(response)
            if finished:
                return response
            if progress is not None:
                progress(f"operation {last} ({int(self._clock() - start)}s)")
            wait = retry_after(response.headers)


def operation_done(response: ArmResponse) -> tuple[bool, str]:
    body = response.body if isinstance(response.body, dict) else {}
    status = str(body.get("status") or ("InProgress" if response.status == 202 else ""))
    if status.lower() == "succeeded":
        return True, status
    if status.lower() in FAILED:
        raise operation_error(status, body, response.status, response.request_id)
    if not status:
        raise ArmError(
            response.status,
            "InvalidOperationStatus",
            "the operation status response has no 'status' field",
            request_id=response.request_id,
        )
    return False, status


def location_done(response: ArmResponse) -> tuple[bool, str]:
    return (False, "InProgress") if response.status == 202 else (True, "Succeeded")


def resource_done(response: ArmResponse) -> tuple[bool, str]:
    state = provisioning_state(response.body) or "Succeeded"
    if state.lower() in FAILED:
        error = {"code": f"Provisioning{state}", "message": f"provisioningState became {state}"}
        raise operation_error(state, {"error": error}, response.status, response.request_id)
    return state.lower() == "succeeded", state
