"""Following ARM long-running operations to their end (reference azure-platform.md 1.4).

Azure-AsyncOperation is preferred (status InProgress/Succeeded/Failed/Canceled), else
Location (202 while running, 200 when done), else the resource's own provisioningState.
Polls wait for Retry-After between a floor and a cap, and `poll_interval` when ARM gives no
hint (arm_retry.poll_delay). A status answer without a `status` field is not trusted: the
resource (PUT/PATCH) or the Location (POST/DELETE) is read instead before giving up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fipswizard.azure.arm_errors import (
    InvalidOperationStatus,
    Unparseable,
    operation_error,
    timed_out,
)
from fipswizard.azure.arm_response import ArmResponse, provisioning_state
from fipswizard.azure.arm_retry import POLL_DEFAULT, POLL_FLOOR, poll_delay

Progress = Callable[[str], None]
Get = Callable[[str], Awaitable[ArmResponse]]
TERMINAL = {"succeeded", "failed", "canceled", "cancelled"}
FAILED = {"failed", "canceled", "cancelled"}


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
        *,
        poll_interval: float = POLL_DEFAULT,
        poll_floor: float = POLL_FLOOR,
    ) -> None:
        self._get = get
        self._sleep = sleep
        self._clock = clock
        self._timeout = timeout
        self._trusted = trusted
        self._interval = poll_interval
        self._floor = poll_floor

    def _delay(self, response: ArmResponse) -> float:
        return poll_delay(response.headers, default=self._interval, floor=self._floor)

    async def follow(
        self, method: str, url: str, first: ArmResponse, progress: Progress | None
    ) -> ArmResponse:
        """The final resource (PUT/PATCH) or final body (POST/DELETE) once the op ends."""
        if not is_running(first):
            return first
        op_url = first.headers.get("azure-asyncoperation")
        location = first.headers.get("location")
        wait = self._delay(first)
        if op_url:
            try:
                status = await self._poll(op_url, wait, progress, operation_done)
            except Unparseable as garbage:
                return await self._reread(method, url, location, progress, garbage)
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

    async def _reread(
        self,
        method: str,
        url: str,
        location: str | None,
        progress: Progress | None,
        garbage: Unparseable,
    ) -> ArmResponse:
        """The status answer had no `status`: judge the operation by what it acted on."""
        if progress is not None:
            progress("operation status unreadable: reading the resource instead")
        if method in ("PUT", "PATCH"):
            resource = await self._get(url)
            if not isinstance(resource.body, dict):
                raise garbage
            finished, _ = resource_done(resource)
            if finished:
                return resource
            return await self._poll(url, self._delay(resource), progress, resource_done)
        if location:
            answer = await self._get(self._trusted(location))
            if location_done(answer)[0]:
                return answer
            return await self._poll(location, self._delay(answer), progress, location_done)
        raise garbage

    async def _poll(
        self,
        poll_url: str,
        wait: float,
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
            await self._sleep(min(wait, remaining))
            response = await self._get(poll_url)
            finished, last = done(response)
            if finished:
                return response
            if progress is not None:
                progress(f"operation {last} ({int(self._clock() - start)}s)")
            wait = self._delay(response)


def operation_done(response: ArmResponse) -> tuple[bool, str]:
    body = response.body if isinstance(response.body, dict) else {}
    status = str(body.get("status") or ("InProgress" if response.status == 202 else ""))
    if status.lower() == "succeeded":
        return True, status
    if status.lower() in FAILED:
        raise operation_error(status, body, response.status, response.request_id)
    if not status:
        keys = sorted(body) if body else []
        raise InvalidOperationStatus(
            response.status,
            "InvalidOperationStatus",
            f"the operation status answer has no 'status' field (keys: {keys}); "
            "the resource could not be judged from it either",
            request_id=response.request_id,
            advice="the operation may still be running; check the resource and re-run "
            "(every step checks first); nothing was written from this answer",
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
