"""Base for steps that talk to ARM: the requests they send and the shared VM read.

Each request is described once as an `ArmCall`: the preview renders it (`action`) and the run
sends it (`send`), so the preview shows exactly the URL the run sends (issue 8 item 5).

Where plan-time facts may be used (trust rule "writes come from fresh, parsed reads"):
- `observed()` (discovery's read) serves the preview and READ-ONLY checks only (region, agent).
- Every write is built from `read_vm()` made for that write, etag included; decisions taken
  after a write (diagnosis, fixes) re-read what that write could have changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fipswizard.azure.arm_response import ArmResponse
from fipswizard.azure.arm_url import arm_url
from fipswizard.azure.vm_model import VmFacts, vm_facts
from fipswizard.context import Context
from fipswizard.engine.steps import HttpAction, Step

EXPAND_VIEW = {"$expand": "instanceView"}  # the VM with its agent and power state, one GET


@dataclass(frozen=True)
class ArmCall:
    """One ARM request as a step sends it; `note` is for the preview only."""

    method: str
    path: str
    api: str
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None
    note: str = ""

    def url(self, endpoint: str) -> str:
        return arm_url(endpoint, self.path, self.api, **self.query)

    def action(self, endpoint: str, note: str | None = None) -> HttpAction:
        return HttpAction(
            self.method, self.url(endpoint), self.body, self.note if note is None else note
        )

    async def send(self, ctx: Context, *, retry_safe: bool | None = None) -> ArmResponse:
        """GET and POST here; a PUT needs its If-Match and goes through `arm.put` itself."""
        arm = ctx.need_arm()
        if self.method == "GET":
            return await arm.get(self.path, self.api, **self.query)
        if self.method == "POST" and not self.query:
            return await arm.post(
                self.path,
                self.api,
                self.body,
                retry_safe=bool(retry_safe),
                progress=ctx.progress,
            )
        raise ValueError(f"ArmCall.send cannot send {self.method} {self.path}")  # pragma: no cover


def vm_read(vm_path: str, api: str, *, expand: bool = True, note: str = "") -> ArmCall:
    """The VM GET every step uses: with $expand=instanceView for agent and power state."""
    return ArmCall("GET", vm_path, api, dict(EXPAND_VIEW) if expand else {}, note=note)


class ArmStep(Step):
    """params carry `endpoint` and `api` so previews show the exact URL that will be sent."""

    def url(self, path: str, api: str | None = None, **query: str) -> str:
        return arm_url(self.params["endpoint"], path, api or self.params["api"], **query)

    def action(self, call: ArmCall, note: str | None = None) -> HttpAction:
        return call.action(self.params["endpoint"], note)

    @property
    def vm_path(self) -> str:
        return str(self.params["vm_path"])

    @property
    def vm_name(self) -> str:
        return f"VM {self.vm_path.rsplit('/', 1)[-1]}"

    def vm_read(self, *, expand: bool = True, note: str = "") -> ArmCall:
        return vm_read(self.vm_path, self.params["api"], expand=expand, note=note)

    def observed(self) -> dict[str, Any] | None:
        """What discovery read moments ago, used once so a read-only check sends no repeated
        GET. Never build a write from it: writes call `read_vm` for themselves."""
        return self.params.pop("observed", None)  # type: ignore[no-any-return]

    async def read_vm(self, ctx: Context, *, expand: bool = True) -> VmFacts:
        """A fresh, fully parsed read (MalformedResource if ARM's answer is not a VM)."""
        resp = await self.vm_read(expand=expand).send(ctx)
        return vm_facts(resp.body, resp.etag, self.vm_name)


def vm_params(endpoint: str, api: str, vm_path: str, **extra: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "api": api, "vm_path": vm_path, **extra}
