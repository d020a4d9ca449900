"""Base for steps that talk to ARM: URLs for previews and the shared VM read.

Where plan-time facts may be used (trust rule "writes come from fresh, parsed reads"):
- `observed()` (discovery's read) serves the preview and READ-ONLY checks only (region, agent).
- Every write is built from `read_vm()` made for that write, etag included; decisions taken
  after a write (diagnosis, fixes) re-read what that write could have changed.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fipswizard.azure.vm_model import VmFacts, vm_facts
from fipswizard.context import Context
from fipswizard.engine.steps import Step


class ArmStep(Step):
    """params carry `endpoint` and `api` so previews show the exact URL that will be sent."""

    def url(self, path: str, api: str | None = None, **query: str) -> str:
        q = {"api-version": api or self.params["api"], **query}
        return f"{self.params['endpoint']}{path}?{urlencode(q, safe='$/')}"

    @property
    def vm_path(self) -> str:
        return str(self.params["vm_path"])

    @property
    def vm_name(self) -> str:
        return f"VM {self.vm_path.rsplit('/', 1)[-1]}"

    def observed(self) -> dict[str, Any] | None:
        """What discovery read moments ago, used once so a read-only check sends no repeated
        GET. Never build a write from it: writes call `read_vm` for themselves."""
        return self.params.pop("observed", None)  # type: ignore[no-any-return]

    async def read_vm(self, ctx: Context, *, expand: bool = True) -> VmFacts:
        """A fresh, fully parsed read (MalformedResource if ARM's answer is not a VM)."""
        arm = ctx.need_arm()
        query = {"$expand": "instanceView"} if expand else {}
        resp = await arm.get(self.vm_path, self.params["api"], **query)
        return vm_facts(resp.body, resp.etag, self.vm_name)


def vm_params(endpoint: str, api: str, vm_path: str, **extra: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "api": api, "vm_path": vm_path, **extra}
