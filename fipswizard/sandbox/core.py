"""`SandboxAzure`: the simulated Azure Resource Manager, as one pure request handler.

`handle(method, url, headers, body)` answers like ARM. Around the routed handlers it adds
what every ARM answer has: bearer-token check, per-subscription throttling, request and
correlation ids, rate-limit headers, fault injection and the request log. Paths under
`/_sandbox/` are the control API (control.py): no auth, no faults, not logged.
A dropped connection is raised as `ConnectionDropped`; each front end turns it into its
own kind of drop (transport.py, server.py).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from fipswizard.sandbox import control
from fipswizard.sandbox.clock import Clock, Scheduler
from fipswizard.sandbox.estate import Estate, demo_estate
from fipswizard.sandbox.faults import STATUS_CODES, Faults
from fipswizard.sandbox.model import Operation, Subscription, VirtualMachine
from fipswizard.sandbox.request_log import RequestLog
from fipswizard.sandbox.routes import API_VERSIONS, resolve
from fipswizard.sandbox.throttle import DEFAULT_READS, DEFAULT_WRITES, BucketSpec, Throttle
from fipswizard.sandbox.wire import ArmError, ConnectionDropped, Request, Response, retry_after

if TYPE_CHECKING:
    import httpx

HttpResult = tuple[int, dict[str, str], bytes]


class SandboxAzure:
    def __init__(
        self,
        estate: Estate | None = None,
        *,
        clock: Clock = time.monotonic,
        op_seconds: float = 2.0,
        registration_seconds: float = 5.0,
        reads: BucketSpec = DEFAULT_READS,
        writes: BucketSpec = DEFAULT_WRITES,
        faults: Faults | None = None,
        seed: int = 0,
        wall_start: float | None = None,
    ) -> None:
        self.estate = estate if estate is not None else demo_estate()
        self._clock = clock
        self.skew = 0.0  # POST /_sandbox/advance moves sandbox time forward
        self.op_seconds = op_seconds
        self.registration_seconds = registration_seconds
        self.scheduler = Scheduler()
        self.throttle = Throttle(reads, writes)
        self.faults = faults if faults is not None else Faults(seed=seed)
        self.log = RequestLog()
        self.operations: dict[str, Operation] = {}
        self._ids = random.Random(seed + 7919)  # separate from faults: ids never shift faults
        self._t0 = clock()
        self._wall0 = time.time() if wall_start is None else wall_start
        self.lock = threading.RLock()  # the server thread and test code may both look in

    # ---- time and ids
    def now(self) -> float:
        return self._clock() + self.skew

    def elapsed(self, t: float | None = None) -> float:
        return (self.now() if t is None else t) - self._t0

    def iso(self, t: float) -> str:
        moment = datetime.fromtimestamp(self._wall0 + (t - self._t0), UTC)
        return moment.isoformat().replace("+00:00", "Z")

    def new_id(self) -> str:
        return str(uuid.UUID(int=self._ids.getrandbits(128), version=4))

    def new_public_ip(self) -> str:
        return (
            f"20.{self._ids.randint(1, 254)}.{self._ids.randint(0, 255)}."
            f"{self._ids.randint(1, 254)}"
        )

    def compute_versions(self) -> list[str]:
        return list(API_VERSIONS["compute"])

    # ---- lookups that answer like ARM when something is missing
    def subscription(self, sub_id: str) -> Subscription:
        sub = self.estate.subscriptions.get(sub_id.lower())
        if sub is None:
            raise ArmError(
                404, "SubscriptionNotFound", f"The subscription '{sub_id}' could not be found."
            )
        return sub

    def resource_group(self, sub: Subscription, name: str) -> str:
        group = sub.resource_groups.get(name.lower())
        if group is None:
            raise ArmError(
                404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found."
            )
        return group

    def find_vm(self, p: Mapping[str, str]) -> VirtualMachine:
        sub = self.subscription(p["sub"])
        group = self.resource_group(sub, p["rg"])
        vm = self.estate.vms.get(p["vm"].lower())
        if (
            vm is None
            or vm.subscription.lower() != sub.id.lower()
            or vm.resource_group.lower() != group.lower()
        ):
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource 'Microsoft.Compute/virtualMachines/{p['vm']}' under "
                f"resource group '{p['rg']}' was not found. For more details please "
                "go to https://aka.ms/ARMResourceNotFoundFix",
            )
        return vm

    def settle(self) -> None:
        with self.lock:
            self.scheduler.settle(self.now())

    def state(self) -> dict[str, Any]:
        """The same dump as GET /_sandbox/state (no protected settings, no tokens)."""
        with self.lock:
            self.scheduler.settle(self.now())
            return control.state(self)

    # ---- the front door
    async def handle(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> HttpResult:
        req = Request.parse(method, url, headers, body)
        if req.segments[:1] == ["_sandbox"]:
            with self.lock:
                resp = control.handle(self, req)
            return resp.status, resp.headers, resp.body
        if self.faults.latency > 0:
            await asyncio.sleep(self.faults.latency)
        with self.lock:
            resp = self._handle_arm(req)
        return resp.status, resp.headers, resp.body

    def transport(self) -> httpx.AsyncBaseTransport:
        from fipswizard.sandbox.transport import SandboxTransport

        return SandboxTransport(self)

    def _handle_arm(self, req: Request) -> Response:
        req.now = now = self.now()
        self.scheduler.settle(now)
        decision = self.faults.decide(req.method, req.path)
        kind = "writes" if req.is_write else "reads"
        common = {
            "x-ms-request-id": str(uuid.uuid4()),
            "x-ms-correlation-request-id": req.headers.get("x-ms-correlation-request-id")
            or str(uuid.uuid4()),
        }
        if "x-ms-client-request-id" in req.headers:
            common["x-ms-client-request-id"] = req.headers["x-ms-client-request-id"]
        if decision.drop and not decision.after_apply:
            self._log(req, 0, "before")
            raise ConnectionDropped(after_apply=False)
        bucket = None
        try:
            _check_auth(req)
            segments = req.segments
            sub = (
                segments[1]
                if len(segments) > 1 and segments[0].lower() == "subscriptions"
                else "tenant"
            )
            bucket = self.throttle.bucket(sub, kind, now)
            wait = bucket.take(now)
            if wait is not None:
                raise ArmError(
                    429,
                    "TooManyRequests",
                    f"The request for subscription '{sub}' could not be processed due "
                    "to an excessive volume of traffic. Please try again later.",
                    {"Retry-After": retry_after(wait)},
                )
            if decision.status is not None:
                code = STATUS_CODES[decision.status]
                raise ArmError(
                    decision.status,
                    code,
                    "The service is temporarily unavailable (sandbox fault "
                    "injection). Please retry.",
                    {"Retry-After": "1"},
                )
            route, params = resolve(req)
            resp = route.handler(self, req, params)
        except ArmError as err:
            resp = err.response()
        except Exception as exc:  # a sandbox bug: answer 500 like ARM would, keep serving
            traceback.print_exc()
            resp = ArmError(500, "InternalServerError", f"sandbox error: {exc!r}").response()
        resp.headers.update(common)
        if bucket is not None:
            resp.headers[f"x-ms-ratelimit-remaining-subscription-{kind}"] = str(bucket.remaining())
        if decision.drop:
            self._log(req, resp.status, "after")
            raise ConnectionDropped(after_apply=True)
        self._log(req, resp.status, None)
        return resp

    def _log(self, req: Request, status: int, dropped: str | None) -> None:
        self.log.add(
            self.elapsed(req.now),
            req.method,
            req.path,
            req.raw_query,
            status,
            req.is_write,
            dropped,
        )


def _check_auth(req: Request) -> None:
    value = req.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return
    problem = "is missing" if not value else "is not in a valid format"
    raise ArmError(
        401,
        "AuthenticationFailed",
        f"Authentication failed. The 'Authorization' header {problem}.",
        {
            "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.'
            'com/common", error="invalid_token"'
        },
    )
