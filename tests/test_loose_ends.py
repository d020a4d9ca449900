"""Loose ends of the last round (issue 11 item 3, b and c)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fipswizard.azure.arm_step import vm_params
from fipswizard.azure.arm_url import arm_url
from fipswizard.azure.steps_validate import ReallocateFix
from fipswizard.azure.steps_vm import AgentStep, VmFlagStep
from fipswizard.context import Context, ScriptResult
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.engine.steps import HttpAction, Risk
from fipswizard.guest.validate import VALIDATE_SCRIPT, GuestValidateStep


class Runner:
    name = "fake"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def run(self, script: str, **kw: Any) -> ScriptResult:
        self.calls.append({"script": script, **kw})
        return ScriptResult(0, "fips_enabled=1\nopenssl_md5=refused\nfips_provider=active\n", "")


async def test_guest_validation_is_sent_read_only_with_progress() -> None:
    """Read-only, so a runner may resend it after a 5xx; waiting lines reach the run."""
    runner, lines = Runner(), []  # type: Runner, list[str]
    ctx = Context(prompter=HeadlessPrompter(True), runner=runner, progress=lines.append)
    step = GuestValidateStep("s/rg/vm", "Validate", Risk.READ_ONLY, {})
    assert (await step.check(ctx)).done
    (call,) = runner.calls
    assert call["script"] == VALIDATE_SCRIPT and call["read_only"] is True
    call["progress"]("another Run Command is still running")
    assert lines == ["another Run Command is still running"]


ARM = "https://management.azure.com"
VM_PATH = (
    "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg"
    "/providers/Microsoft.Compute/virtualMachines/vm1"
)


def vm_body(flag: bool = False) -> dict[str, Any]:
    view = {
        "vmAgent": {"vmAgentVersion": "2.15.0.1", "statuses": [{"displayStatus": "Ready"}]},
        "statuses": [{"code": "PowerState/running"}],
    }
    caps = {"enableFips1403Encryption": flag, "ultraSSDEnabled": False}
    return {
        "location": "westeurope",
        "properties": {"additionalCapabilities": caps, "instanceView": view},
    }


class Arm:
    """Records each request as the URL ArmClient builds for it (the one builder)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []

    async def get(self, path: str, api_version: str, **query: str) -> Any:
        from fipswizard.azure.arm_response import ArmResponse

        self.sent.append(("GET", arm_url(ARM, path, api_version, **query), None))
        return ArmResponse(200, httpx.Headers({"ETag": '"1"'}), vm_body())

    async def put(self, path: str, api_version: str, body: Any, **_kw: Any) -> Any:
        from fipswizard.azure.arm_response import ArmResponse

        self.sent.append(("PUT", arm_url(ARM, path, api_version), body))
        return ArmResponse(200, httpx.Headers({"ETag": '"2"'}), vm_body(True))

    async def post(self, path: str, api_version: str, body: Any = None, **_kw: Any) -> Any:
        from fipswizard.azure.arm_response import ArmResponse

        self.sent.append(("POST", arm_url(ARM, path, api_version), body))
        return ArmResponse(200, httpx.Headers(), None)


def arm_ctx(arm: Arm) -> Context:
    return Context(prompter=HeadlessPrompter(True), arm=arm)  # type: ignore[arg-type]


async def test_agent_step_preview_is_the_request_the_wait_sends() -> None:
    """Issue 8 item 5: the preview said GET .../instanceView, the run sent ?$expand=."""
    step = AgentStep("t", "agent", Risk.READ_ONLY, vm_params(ARM, "2025-04-01", VM_PATH))
    arm = Arm()
    await step.apply(arm_ctx(arm), None)  # type: ignore[arg-type]
    preview = [(a.method, a.url, a.body) for a in step.actions() if isinstance(a, HttpAction)]
    assert arm.sent == preview
    assert preview[0][1].endswith(f"{VM_PATH}?api-version=2025-04-01&$expand=instanceView")


async def test_vm_flag_preview_shows_the_requests_the_run_sends() -> None:
    params = vm_params(ARM, "2025-04-01", VM_PATH, location="westeurope")
    params["capabilities"] = {"enableFips1403Encryption": False, "ultraSSDEnabled": False}
    step = VmFlagStep("t", "flag", Risk.REVERSIBLE, params)
    arm = Arm()
    ctx = arm_ctx(arm)
    await step.apply(ctx, await step.check(ctx))
    preview = [(a.method, a.url, a.body) for a in step.actions() if isinstance(a, HttpAction)]
    assert arm.sent == preview[:2]  # GET for the etag, then the PUT with the same body
    assert preview[1][2]["properties"]["additionalCapabilities"]["ultraSSDEnabled"] is False


async def test_unregister_feature_waits_until_no_vm_of_the_subscription_has_the_flag() -> None:
    """rollback --unregister-feature after a partly rolled back VM: the opt-in stays while any
    VM of that subscription keeps enableFips1403Encryption on (read now, every VM)."""
    from fipswizard.azure.arm import ArmClient
    from fipswizard.azure.clouds import CLOUDS
    from fipswizard.azure.credentials import StaticToken
    from fipswizard.azure.steps_feature import FeatureStep
    from fipswizard.context import Settings
    from fipswizard.sandbox import FakeClock, SandboxAzure
    from fipswizard.sandbox.estate import DEMO_SUBSCRIPTION
    from fipswizard.secrets import Secret

    clock = FakeClock()
    sandbox = SandboxAzure(clock=clock, registration_seconds=30, op_seconds=5)

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    settings = Settings()
    step = FeatureStep(
        f"subscription {DEMO_SUBSCRIPTION}",
        "opt in",
        Risk.REVERSIBLE,
        {
            "endpoint": ARM,
            "api": settings.features_api,
            "resources_api": settings.resources_api,
            "subscription": DEMO_SUBSCRIPTION,
            "feature": settings.feature_name,
            "unregister": True,
        },
    )
    feature = sandbox.estate.subscriptions[DEMO_SUBSCRIPTION.lower()].feature(
        f"Microsoft.Compute/{settings.feature_name}"
    )
    assert feature is not None
    ctx = Context(HeadlessPrompter(True), clock=clock, sleep=sleep)
    async with ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("t", "token")),
        correlation_id="c",
        transport=sandbox.transport(),
        sleep=sleep,
        clock=clock,
    ) as arm:
        ctx = ctx.bind(arm=arm)
        before = await step.check(ctx)
        await step.apply(ctx, before)  # registration takes 30 virtual seconds
        assert (await step.check(ctx)).done
        vms = [vm for vm in sandbox.estate.vms.values() if vm.subscription == DEMO_SUBSCRIPTION]
        vms[0].props["additionalCapabilities"] = {"enableFips1403Encryption": True}
        on = sorted(vm.name for vm in vms if vm.fips_flag)

        said = await step.rollback(ctx, {"previous": before.facts["previous"]})
        assert said.startswith("left registered") and on[0] in said
        assert (await step.check(ctx)).done  # still Registered: nothing was sent
        assert not [e for e in sandbox.log.writes() if e["path"].endswith("/unregister")]

        for vm in vms:  # every VM rolled back: now the opt-in may go
            vm.props["additionalCapabilities"] = {"enableFips1403Encryption": False}
        said = await step.rollback(ctx, {"previous": before.facts["previous"]})
    assert said.startswith("feature unregistered")
    assert [e for e in sandbox.log.writes() if e["path"].endswith("/unregister")]


async def test_reallocate_fix_preview_is_what_it_sends() -> None:
    step = ReallocateFix("t", "fix", Risk.DISRUPTIVE, vm_params(ARM, "2025-04-01", VM_PATH))
    arm = Arm()
    await step.apply(arm_ctx(arm), None)  # type: ignore[arg-type]
    preview = [(a.method, a.url, a.body) for a in step.actions() if isinstance(a, HttpAction)]
    assert arm.sent == preview  # deallocate, start, then the agent wait's GET (was missing)


class ExtArm(Arm):
    """Arm, where the VM's extension list is empty."""

    async def get(self, path: str, api_version: str, **query: str) -> Any:
        from fipswizard.azure.arm_response import ArmResponse

        if path.endswith("/extensions"):
            self.sent.append(("GET", arm_url(ARM, path, api_version, **query), None))
            return ArmResponse(200, httpx.Headers(), {"value": []})
        return await super().get(path, api_version, **query)


@pytest.mark.parametrize("kind", ["validate-customscript", "validate-vmaccess"])
async def test_validation_preview_is_the_requests_the_run_sends(kind: str) -> None:
    """Issue 11 item 3: each step's requests are built once. The preview used to omit the VM
    read that gives the extension PUT its location."""
    from fipswizard.azure.steps_validate import PLACEHOLDERS
    from fipswizard.engine.steps import Step

    params = {**vm_params(ARM, "2025-04-01", VM_PATH), "id": kind, "kind": kind}
    step = Step.from_record("t", "validate", "reversible", params)
    arm = ExtArm()
    ctx = arm_ctx(arm)
    await step.apply(ctx, await step.check(ctx))
    preview = [(a.method, a.url) for a in step.actions() if isinstance(a, HttpAction)]
    assert [(m, u) for m, u, _ in arm.sent] == preview
    sent_puts = [b for m, _, b in arm.sent if m == "PUT"]
    shown_puts = [a.body for a in step.actions() if isinstance(a, HttpAction) and a.method == "PUT"]
    for sent, shown in zip(sent_puts, shown_puts, strict=True):
        assert sent["location"] == "westeurope" and shown["location"] == "<location from GET>"
        # The same settings keys; only what the run alone knows differs (user, password, date).
        assert sent["properties"]["protectedSettings"].keys() == (
            shown["properties"]["protectedSettings"].keys()
        )
        assert sent["tags"] == shown["tags"]
    assert PLACEHOLDERS["password"] not in str(sent_puts)
