"""Long-running operations: scheduling on the sandbox clock, polling URLs and their answers.

An operation is created by a write and finishes `op_seconds` later, when the scheduler
fires its completion callback. Lifecycle operations on one VM (power actions, Run Command,
extensions, reboots) run one after another, like the guest agent processes them; a VM
PUT/PATCH runs on its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fipswizard.sandbox.model import Operation, VirtualMachine
from fipswizard.sandbox.wire import ArmError, Request, Response, json_response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

OnBegin = Callable[[float], None]
OnDone = Callable[[float, Operation], None]
MAX_RETRY_AFTER = 10


def schedule(
    az: SandboxAzure,
    vm: VirtualMachine,
    kind: str,
    on_done: OnDone,
    *,
    on_begin: OnBegin | None = None,
    serial: bool = True,
    seconds: float | None = None,
    now: float | None = None,
) -> Operation:
    """Start an operation on `vm`; `on_done` may call `op.fail(...)`, else it succeeds.

    `now` lets a completion callback chain a follow-up at its own event time.
    """
    now = az.now() if now is None else now
    start = max(now, vm.busy_until) if serial else now
    done = start + (az.op_seconds if seconds is None else seconds)
    if serial:
        vm.busy_until = done
    op = Operation(
        id=az.new_id(),
        subscription=vm.subscription,
        location=vm.location,
        kind=kind,
        vm=vm.name,
        start_t=now,
        done_t=done,
    )
    az.operations[op.id] = op
    if on_begin is not None:
        if start <= now:
            on_begin(now)
        else:
            az.scheduler.at(start, on_begin)

    def finish(t: float) -> None:
        on_done(t, op)
        if op.status == "InProgress":
            op.status = "Succeeded"
        op.end_t = t

    az.scheduler.at(done, finish)
    return op


def operation_url(req: Request, op: Operation) -> str:
    api = req.query.get("api-version", "")
    return (
        f"{req.base_url}/subscriptions/{op.subscription}/providers/Microsoft.Compute"
        f"/locations/{op.location}/operations/{op.id}?api-version={api}"
    )


def _wait_headers(az: SandboxAzure, op: Operation) -> dict[str, str]:
    """How long to wait before the next poll, in the form `az.faults.poll_hints` asks for.

    "integer": whole seconds, at least 1 (Retry-After as ARM's async contract describes it);
    "fast": whole seconds too while a second or more is left, but milliseconds only
    (retry-after-ms, read by azure-core when Retry-After is absent) for the last fraction, so
    simulated operations shorter than a second stay short; "none": no hint (the client falls
    back to its own interval); "both": both headers (azure-core prefers Retry-After).
    """
    remaining = max(0.0, min(float(MAX_RETRY_AFTER), op.done_t - az.now()))
    seconds = {"Retry-After": str(max(1, math.ceil(remaining - 1e-9)))}
    millis = {"retry-after-ms": str(max(1, math.ceil(remaining * 1000)))}
    mode = az.faults.poll_hints
    if mode == "integer":
        return seconds
    if mode == "none":
        return {}
    if mode == "both":
        return {**seconds, **millis}
    return seconds if remaining >= 1.0 else millis


def async_headers(
    az: SandboxAzure, req: Request, op: Operation, *, location: bool = False
) -> dict[str, str]:
    url = operation_url(req, op)
    headers = {"Azure-AsyncOperation": url, **_wait_headers(az, op)}
    if location:
        headers["Location"] = url + "&monitor=true"
    return headers


def status_body(az: SandboxAzure, op: Operation) -> dict[str, Any]:
    body: dict[str, Any] = {"startTime": az.iso(op.start_t), "status": op.status, "name": op.id}
    if op.end_t is not None:
        body["endTime"] = az.iso(op.end_t)
    if op.error is not None:
        body["error"] = dict(op.error)
    if op.output is not None and op.status == "Succeeded":
        body["properties"] = {"output": op.output}
    return body


def get_operation(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    op = az.operations.get(p["op"].lower())
    if op is None or op.subscription.lower() != p["sub"].lower():
        raise ArmError(404, "NotFound", f"The operation '{p['op']}' was not found.")
    if req.query.get("monitor", "").lower() != "true":
        headers = _wait_headers(az, op) if op.status == "InProgress" else {}
        return json_response(200, status_body(az, op), headers)
    # Location semantics: 202 while running, then the final result or the error.
    if op.status == "InProgress":
        return Response(
            202, {"Location": operation_url(req, op) + "&monitor=true", **_wait_headers(az, op)}
        )
    if op.status == "Failed" and op.error is not None:
        return json_response(op.error_status, {"error": dict(op.error)})
    if op.output is not None:
        return json_response(200, op.output)
    return Response(200, {})
