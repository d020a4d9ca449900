"""Per-VM platform steps: region advice, the FIPS flag, the agent's status."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fipswizard.azure.arm_step import ArmCall, ArmStep
from fipswizard.azure.regions import RegionStatus, region_advice
from fipswizard.azure.vm_model import MalformedResource, VmFacts, vm_facts
from fipswizard.context import Context, TargetKey
from fipswizard.engine.steps import Action, Outcome
from fipswizard.errors import StepError
from fipswizard.versions import MIN_AGENT

REGION_REFUSED = "region not supported"  # RegionRejected's first words (rollback reads them)


class RegionRejected(StepError):
    """The VM PUT said the platform change is not in this region: the final word."""

    def __init__(self, region: str, arm_message: str) -> None:
        super().__init__(
            f"{REGION_REFUSED}: {region} (ARM said: {arm_message})",
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
            ctx.found("warning", f"region-{advice.status}", detail)
        return Outcome(True, detail, {"region": advice.region, "status": str(advice.status)})

    async def apply(self, ctx: Context, before: Outcome) -> None:  # pragma: no cover - never needed
        return None


class VmFlagStep(ArmStep):
    """Set properties.additionalCapabilities.enableFips1403Encryption = true (GET, PUT If-Match)."""

    kind = "vm-flag"
    # The flag changes the certificate package the platform issues at the next start, not
    # anything a guest script reads: guest checks read ahead of it stay valid.
    changes_guest = False

    def body(self, location: str, caps: dict[str, Any], value: bool) -> dict[str, Any]:
        # Keep the VM's other capabilities: the PUT body replaces the object we send.
        merged = {**caps, "enableFips1403Encryption": value}
        return {"location": location, "properties": {"additionalCapabilities": merged}}

    def calls(self, location: str, caps: dict[str, Any], value: bool) -> list[ArmCall]:
        """The requests, built once: the preview renders them and `_put` sends the PUT."""
        return [
            self.vm_read(expand=False, note="read the flag and the etag"),
            ArmCall(
                "PUT",
                self.vm_path,
                self.params["api"],
                body=self.body(location, caps, value),
                note="If-Match: <etag from the GET>; then wait for the operation",
            ),
            self.vm_read(expand=False, note="verify: read the flag back"),
        ]

    def actions(self) -> list[Action]:
        location = self.params.get("location") or "<location from GET>"
        caps = self.params.get("capabilities", {})
        return [self.action(call) for call in self.calls(location, caps, True)]

    async def check(self, ctx: Context) -> Outcome:
        # A write follows: read the VM for it (never discovery's read), etag included.
        self.observed()  # dropped unused, so the journalled step record stays small
        vm = await self.read_vm(ctx, expand=False)
        facts = {
            "previous": vm.flag,
            "location": vm.location,
            "etag": vm.etag,
            "capabilities": vm.capabilities,
        }
        if vm.flag:
            return Outcome(True, "enableFips1403Encryption is already true", facts)
        return Outcome(False, "enableFips1403Encryption is not set", facts)

    def changed_nothing(self, failure: str) -> bool:
        return failure.startswith(REGION_REFUSED)

    async def apply(self, ctx: Context, before: Outcome) -> None:
        await self._put(ctx, before, True)

    async def _put(self, ctx: Context, before: Outcome, value: bool) -> None:
        from fipswizard.azure.arm import PreconditionFailed, RegionNotSupported

        arm = ctx.need_arm()
        facts = before.facts
        for attempt in range(3):
            if not facts.get("etag") or not facts.get("location"):
                raise MalformedResource(self.vm_name, "the read gave no ETag or no location")
            put = self.calls(facts["location"], facts["capabilities"], value)[1]
            try:
                done = await arm.put(
                    put.path,
                    put.api,
                    put.body,
                    if_match=facts["etag"],
                    progress=ctx.progress,
                )
                self._final = vm_facts(done.body, done.etag, self.vm_name)
                return
            except RegionNotSupported as err:
                raise RegionRejected(facts["location"], err.message) from None
            except PreconditionFailed:
                # Someone changed the VM since we read it: read again and decide again.
                ctx.progress(f"the VM changed since it was read (412); re-reading ({attempt + 1})")
                fresh = await self.read_vm(ctx, expand=False)
                if fresh.flag == value:
                    return
                facts = {
                    **facts,
                    "etag": fresh.etag,
                    "location": fresh.location,
                    "capabilities": fresh.capabilities,
                }
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
        await self._refuse_if_guest_fips(ctx)
        await self._put(ctx, now, False)
        return "enableFips1403Encryption set back to false"

    async def _refuse_if_guest_fips(self, ctx: Context) -> None:
        """Flag off with the guest in FIPS mode is the one inconsistent state (see
        fipswizard/engine/rollback.py): ask the guest itself, whoever put it in FIPS mode."""
        if ctx.runner is None:
            return  # no guest channel (offline tests): the journal-based rule alone applies
        from fipswizard.guest.protocol import parse_facts
        from fipswizard.guest.validate import VALIDATE_SCRIPT  # read-only

        result = await ctx.runner.run(
            VALIDATE_SCRIPT, timeout=300, read_only=True, progress=ctx.progress
        )
        value = parse_facts(result.stdout).get("fips_enabled")
        if result.rc in (0, 10) and value == "0":
            return
        why = (
            "the guest is in FIPS mode"
            if value == "1"
            else f"the guest's FIPS state could not be read (exit code {result.rc})"
        )
        raise StepError(
            f"enableFips1403Encryption kept true: {why}; turning it off would leave a FIPS "
            "guest unable to read its extensions' certificate package",
            "take the guest out of FIPS mode first (or keep the flag on: that state is "
            "consistent), then run the same rollback again",
        )


class AgentStep(ArmStep):
    """The guest agent must be Ready (Run Command and extensions need it). Read-only."""

    kind = "agent-status"

    def actions(self) -> list[Action]:
        # The same GET the wait sends: the VM with $expand=instanceView (issue 8 item 5).
        return [self.action(self.vm_read(note="agent status, agent version, power state"))]

    async def check(self, ctx: Context) -> Outcome:
        seen = self.observed()
        if seen is not None and "error" in seen:
            # The run's first read of this VM failed: it gets no write at all (issue 7.8).
            raise StepError(
                f"could not read {self.vm_name} when the run started: {seen['error']}",
                "nothing was written to it; read it with `az vm show` to see what ARM "
                "returns, then re-run",
            )
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
        await wait_until_ready(self, ctx, ctx.settings.agent_wait)


STOPPED = ("deallocated", "stopped")  # nothing will bring the agent up: say "start it"


def start_command(vm_path: str) -> str:
    """The runnable `az` command that starts the VM at `vm_path`."""
    key = TargetKey.parse(vm_path)
    return (
        f"az vm start --subscription {key.subscription} --resource-group {key.resource_group} "
        f"--name {key.vm}"
    )


def agent_failure(step: ArmStep, vm: VmFacts, waited: float) -> StepError:
    """The message and the advice that fits the cause (issue 13): a VM that is not running
    needs starting, only a running VM with its agent Not Ready needs the boot diagnostics."""
    state = f"guest agent is {vm.agent_status} (version {vm.agent_version}, power {vm.power_state})"
    if vm.power_state in STOPPED:
        return StepError(
            f"{step.vm_name} is {vm.power_state}, so its guest agent cannot be Ready",
            f"start it ({start_command(step.vm_path)}), then re-run",
        )
    return StepError(
        f"{state} after {waited:.0f}s",
        "check the VM's boot diagnostics / serial console and /var/log/waagent.log; "
        f"an agent older than {MIN_AGENT} or the RHEL 9.5/9.6 2.7.0.6 loop keeps it Not Ready",
    )


async def wait_until_ready(step: ArmStep, ctx: Context, timeout: float) -> VmFacts:
    """An ArmStep's wait for its VM, with the advice that fits the cause (agent_failure)."""
    return await wait_for_agent(
        ctx,
        step.vm_read(),
        step.vm_name,
        timeout,
        lambda vm, waited: agent_failure(step, vm, waited),
    )


async def wait_for_agent(
    ctx: Context,
    read: ArmCall,
    name: str,
    timeout: float,
    failure: Callable[[VmFacts, float], StepError],
    *,
    after_restart: bool = False,
    stale: str | None = None,
) -> VmFacts:
    """The one agent wait (the agent step and the reboot): poll `read` (the VM with its
    instance view) until the agent is Ready and the VM running, or raise `failure(vm, waited)`.

    `after_restart`: a stopped power state is a moment of the restart, not the end, and with
    `stale` (the agent's status time read before it) a Ready status counts only once its time
    has changed. Time comes from `ctx.clock`/`ctx.sleep`, so tests wait on a virtual clock.
    """
    start = ctx.clock()
    said, said_at = "", -1e9
    while True:
        try:
            resp = await read.send(ctx)
            vm = vm_facts(resp.body, resp.etag, name)
        except MalformedResource as err:
            raise StepError(
                f"could not read {name}'s agent status: {err.problem}",
                "read it with `az vm get-instance-view` to see what ARM returns, then re-run",
            ) from None
        waited = ctx.clock() - start
        fresh = stale is None or vm.agent_time != stale
        if vm.agent_ready and vm.power_state == "running" and fresh:
            return vm
        if waited >= timeout or (not after_restart and vm.power_state in STOPPED):
            raise failure(vm, waited)
        state = f"agent {vm.agent_status}, power {vm.power_state}"
        if state != said or waited - said_at >= 30:  # say what changed, or a heartbeat
            ctx.waiting(
                f"waiting for {name}: {state} ({waited:.0f}s of {timeout:.0f}s)", waited, timeout
            )
            said, said_at = state, waited
        await ctx.sleep(ctx.settings.agent_poll)
