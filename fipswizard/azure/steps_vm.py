"""Per-VM platform steps: region advice, the FIPS flag, the agent's status."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fipswizard.azure.arm_step import ArmStep
from fipswizard.azure.regions import RegionStatus, region_advice
from fipswizard.azure.vm_model import vm_facts
from fipswizard.context import Context
from fipswizard.errors import StepError
from fipswizard.steps import Action, HttpAction, Outcome


class RegionRejected(StepError):
    """The VM PUT said the platform change is not in this region: the final word."""

    def __init__(self, region: str, arm_message: str) -> None:
        super().__init__(
            f"region not supported: {region} (ARM said: {arm_message})",
            "the FIPS 140-3 platform change is not deployed there yet: move the VM to a "
            "supported region or try again later",
        )
        self.region = region


class RegionStep(ArmStep):
    """Advice from the dated table; never blocks (the PUT decides)."""

    kind = "region-check"

    def actions(self) -> list[Action]:
        return []

    async def check(self, ctx: Context) -> Outcome:
        location = self.params.get("location") or (await self.read_vm(ctx, expand=False)).location
        advice = region_advice(self.params["cloud"], location)
        detail = advice.describe()
        if advice.status is not RegionStatus.KNOWN_SUPPORTED:
            ctx.progress(f"warning: {detail}")
        return Outcome(True, detail, {"region": advice.region, "status": str(advice.status)})

    async def apply(self, ctx: Context, before: Outcome) -> None:  # pragma: no cover - never needed
        return None


class VmFlagStep(ArmStep):
    """Set properties.additionalCapabilities.enableFips1403Encryption = true (GET, PUT If-Match)."""

    kind = "vm-flag"

    def body(self, location: str, caps: dict[str, Any], value: bool) -> dict[str, Any]:
        # Keep the VM's other capabilities: the PUT body replaces the object we send.
        merged = {**caps, "enableFips1403Encryption": value}
        return {"location": location, "properties": {"additionalCapabilities": merged}}

    def actions(self) -> list[Action]:
        location = self.params.get("location") or "<location from GET>"
        caps = self.params.get("capabilities", {})
        return [
            HttpAction("GET", self.url(self.vm_path), note="read the flag and the etag"),
            HttpAction(
                "PUT",
                self.url(self.vm_path),
                self.body(location, caps, True),
                note="If-Match: <etag from the GET>; then wait for the operation",
            ),
            HttpAction("GET", self.url(self.vm_path), note="verify: read the flag back"),
        ]

    async def check(self, ctx: Context) -> Outcome:
        seen = self.observed()
        if seen is None:
            vm = await self.read_vm(ctx, expand=False)
            seen = {
                "flag": vm.flag,
                "location": vm.location,
                "etag": vm.etag,
                "capabilities": vm.capabilities,
            }
        facts = {
            "previous": seen["flag"],
            "location": seen["location"],
            "etag": seen["etag"],
            "capabilities": seen["capabilities"],
        }
        if seen["flag"]:
            return Outcome(True, "enableFips1403Encryption is already true", facts)
        return Outcome(False, "enableFips1403Encryption is not set", facts)

    async def apply(self, ctx: Context, before: Outcome) -> None:
        await self._put(ctx, before, True)

    async def _put(self, ctx: Context, before: Outcome, value: bool) -> None:
        from fipswizard.azure.arm import PreconditionFailed, RegionNotSupported

        arm = ctx.need_arm()
        facts = before.facts
        for attempt in range(3):
            body = self.body(facts["location"], facts.get("capabilities") or {}, value)
            try:
                done = await arm.put(
                    self.vm_path,
                    self.params["api"],
                    body,
                    if_match=facts.get("etag"),
                    progress=ctx.progress,
                )
                self._final = vm_facts(done.body or {}, done.etag)
                return
            except RegionNotSupported as err:
                raise RegionRejected(facts["location"], err.message) from None
            except PreconditionFailed:
                # Someone changed the VM since we read it: read again and decide again.
                ctx.progress(f"the VM changed since it was read (412); re-reading ({attempt + 1})")
                fresh = await self.read_vm(ctx, expand=False)
                if fresh.flag == value:
                    return
                facts = {**facts, "etag": fresh.etag, "capabilities": fresh.capabilities}
        raise StepError(
            "the VM kept changing while fipswizard tried to update it",
            "find what else is modifying the VM, then re-run",
        )

    async def verify(self, ctx: Context) -> Outcome:
        # The operation ends with a GET of the VM: read that back rather than GET again.
        vm = self.__dict__.pop("_final", None) or await self.read_vm(ctx, expand=False)
        ok = vm.flag and vm.provisioning in ("Succeeded", "")
        return Outcome(ok, f"flag={vm.flag}, provisioningState={vm.provisioning}")

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        if undo.get("previous"):
            return "the flag was already true before the run: left as it is"
        now = await self.check(ctx)
        if not now.done:
            return "the flag is already false"
        await self._put(ctx, now, False)
        return "enableFips1403Encryption set back to false"


class AgentStep(ArmStep):
    """The guest agent must be Ready (Run Command and extensions need it). Read-only."""

    kind = "agent-status"

    def actions(self) -> list[Action]:
        return [
            HttpAction(
                "GET",
                self.url(self.vm_path + "/instanceView"),
                note="agent status, agent version, power state",
            )
        ]

    async def check(self, ctx: Context) -> Outcome:
        seen = self.observed()
        if seen is None:
            vm = await self.read_vm(ctx)
            seen = {
                "agent_ready": vm.agent_ready,
                "agent_status": vm.agent_status,
                "agent_version": vm.agent_version,
                "power_state": vm.power_state,
            }
        detail = (
            f"agent {seen['agent_status']} {seen['agent_version']}, power {seen['power_state']}"
        )
        return Outcome(
            bool(seen["agent_ready"]) and seen["power_state"] == "running",
            detail,
            {k: seen[k] for k in ("agent_status", "agent_version", "power_state")},
        )

    async def apply(self, ctx: Context, before: Outcome) -> None:
        await wait_for_agent(self, ctx, ctx.settings.agent_wait)


async def wait_for_agent(step: ArmStep, ctx: Context, timeout: float) -> None:
    """Poll the instance view until the agent is Ready and the VM running, or explain."""
    start = time.monotonic()
    said, said_at = "", -1e9
    while True:
        vm = await step.read_vm(ctx)
        waited = time.monotonic() - start
        if vm.agent_ready and vm.power_state == "running":
            return
        if waited >= timeout:
            raise StepError(
                f"guest agent is {vm.agent_status} (version {vm.agent_version}, power "
                f"{vm.power_state}) after {waited:.0f}s",
                "check the VM's boot diagnostics / serial console and /var/log/waagent.log; "
                "an agent older than 2.14.0.1 or the RHEL 9.5/9.6 2.7.0.6 loop keeps it Not Ready",
            )
        state = f"{vm.agent_status}, power {vm.power_state}"
        if state != said or waited - said_at >= 30:  # say what changed, or a heartbeat
            ctx.progress(f"waiting for the agent: {state} ({waited:.0f}s of {timeout:.0f}s)")
            said, said_at = state, waited
        await asyncio.sleep(ctx.settings.agent_poll)
