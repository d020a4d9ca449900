"""Base for steps that talk to ARM: URLs for previews and the shared VM read."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fipswizard.azure.vm_model import VmFacts, vm_facts
from fipswizard.context import Context
from fipswizard.steps import Step


class ArmStep(Step):
    """params carry `endpoint` and `api` so previews show the exact URL that will be sent."""

    def url(self, path: str, api: str | None = None, **query: str) -> str:
        q = {"api-version": api or self.params["api"], **query}
        return f"{self.params['endpoint']}{path}?{urlencode(q, safe='$/')}"

    @property
    def vm_path(self) -> str:
        return str(self.params["vm_path"])

    def observed(self) -> dict[str, Any] | None:
        """What discovery read moments ago, used once so a run sends no repeated GET.

        A stale etag is safe: the write carries If-Match, and a 412 re-reads.
        """
        return self.params.pop("observed", None)  # type: ignore[no-any-return]

    async def read_vm(self, ctx: Context, *, expand: bool = True) -> VmFacts:
        arm = ctx.need_arm()
        query = {"$expand": "instanceView"} if expand else {}
        resp = await arm.get(self.vm_path, self.params["api"], **query)
        return vm_facts(resp.body or {}, resp.etag)


def vm_params(endpoint: str, api: str, vm_path: str, **extra: Any) -> dict[str, Any]:
    return {"endpoint": endpoint, "api": api, "vm_path": vm_path, **extra}
