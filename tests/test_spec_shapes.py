"""The documented shapes of Microsoft's REST spec examples, fed to our parsers; and the sandbox
answers the same calls with the same shape at every path we read.

Fixtures in tests/spec_examples/ are written from the spec examples each one names in its
"source" (azure-rest-api-specs Compute 2025-04-01, Microsoft.Features 2021-07-01/2025-03-01,
Microsoft.Resources 2025-04-01, the ARM async contract), trimmed to what we read. They are
facts written down by hand, not copied files. Reference arm-conformance.md sections 3 and 5.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from fipswizard.azure.arm import ArmClient, ArmError, NotFound, RegionNotSupported
from fipswizard.azure.arm_errors import Throttled, error_from_response
from fipswizard.azure.arm_lro import is_running, location_done, operation_done
from fipswizard.azure.arm_response import ArmResponse
from fipswizard.azure.arm_retry import poll_delay, retry_after
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.azure.steps_feature import FeatureStep
from fipswizard.azure.steps_validate import CustomScriptValidation
from fipswizard.azure.vm_model import agent_and_power, vm_facts
from fipswizard.context import Context, Settings
from fipswizard.engine.steps import Risk
from fipswizard.guest.runners import parse_run_command
from fipswizard.sandbox import FakeClock, SandboxAzure
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION
from fipswizard.sandbox.testing import arm_client, vm_path, wait_operation
from fipswizard.secrets import Secret

EXAMPLES = Path(__file__).parent / "spec_examples"
COMPUTE = {"api-version": "2025-04-01"}
FEATURES = {"api-version": "2021-07-01"}
FEATURE = (
    f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Features/providers/"
    "Microsoft.Compute/features/OptInToFips1403Compliance"
)
PROVIDER = f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute"
VM = vm_path(DEMO_SUBSCRIPTION, DEMO_GROUP, "ubuntu2204-web")
FIPS_ON = {"properties": {"additionalCapabilities": {"enableFips1403Encryption": True}}}


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))
    assert doc["source"], f"{name}: every fixture names the spec example it was written from"
    return doc


def as_response(name: str) -> ArmResponse:
    doc = example(name)
    return ArmResponse(doc["status"], httpx.Headers(doc["headers"]), doc["body"])


def as_httpx(name: str) -> httpx.Response:
    doc = example(name)
    return httpx.Response(doc["status"], headers=doc["headers"], json=doc["body"])


# ---------------------------------------------------------------- shapes at the paths we read

_MISSING = "missing"


def _at(doc: Any, path: str) -> Any:
    for part in path.split("."):
        if part == "*":
            return doc
        if isinstance(doc, list):
            doc = doc[int(part)] if part.isdigit() and int(part) < len(doc) else _MISSING
        elif isinstance(doc, dict):
            doc = doc.get(part, _MISSING)
        else:
            return _MISSING
    return doc


def _kind(value: Any) -> str:
    if value is _MISSING:
        return _MISSING
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(value), "null")


def shape(body: Any, paths: list[str]) -> dict[str, str]:
    return {path: _kind(_at(body, path)) for path in paths}


VM_PATHS = [
    "name",
    "id",
    "type",
    "location",
    "etag",
    "properties",
    "properties.vmId",
    "properties.provisioningState",
    "properties.storageProfile.imageReference.publisher",
    "properties.storageProfile.imageReference.offer",
    "properties.storageProfile.imageReference.sku",
    "properties.osProfile.secrets",
    "properties.additionalCapabilities.enableFips1403Encryption",
]
VIEW_PATHS = [
    "vmAgent.vmAgentVersion",
    "vmAgent.statuses",
    "vmAgent.statuses.0.code",
    "vmAgent.statuses.0.displayStatus",
    "statuses",
    "statuses.0.code",
    "statuses.1.code",
    "osName",
    "osVersion",
]
OP_PATHS = ["name", "status", "startTime"]
FEATURE_PATHS = ["name", "id", "type", "properties.state"]
PROVIDER_PATHS = ["id", "namespace", "registrationState"]
EXT_PATHS = [
    "name",
    "id",
    "type",
    "location",
    "properties.publisher",
    "properties.type",
    "properties.typeHandlerVersion",
    "properties.provisioningState",
    "properties.settings",
]
RESULT_PATHS = ["value", "value.0.code", "value.0.message", "value.0.displayStatus"]
ERROR_PATHS = ["error.code", "error.message"]


# ---------------------------------------------------------------- the examples, parsed


def test_vm_get_parses() -> None:
    facts = vm_facts(example("vm_get")["body"], None, "myVM")
    assert facts.location == "West US" and facts.etag == '"1"' and facts.flag is True
    assert facts.provisioning == "Succeeded" and facts.secrets == []
    assert facts.image == "Canonical 0001-com-ubuntu-server-jammy 22_04-lts-gen2"
    assert facts.power_state == "unknown"  # no instance view without $expand


def test_vm_get_with_instance_view_and_instance_view_parse() -> None:
    facts = vm_facts(example("vm_get_expand_instance_view")["body"], None)
    assert (facts.agent_ready, facts.agent_version, facts.power_state) == (
        True,
        "2.14.0.1",
        "running",
    )
    assert agent_and_power(example("vm_instance_view")["body"]) == (
        True,
        "Ready",
        "2.14.0.1",
        "running",
    )


@pytest.mark.parametrize("name", ["vm_put_200", "vm_put_201", "extension_put_201"])
def test_writes_answered_with_an_operation_are_followed(name: str) -> None:
    first = as_response(name)
    assert is_running(first) and first.headers["azure-asyncoperation"]


@pytest.mark.parametrize("name", ["runcommand_202", "deallocate_202"])
def test_actions_answered_202_are_followed(name: str) -> None:
    first = as_response(name)
    assert is_running(first) and "monitor=true" in first.headers["location"]
    assert location_done(ArmResponse(202, httpx.Headers(), None)) == (False, "InProgress")


def test_operation_status_bodies() -> None:
    assert operation_done(as_response("op_in_progress")) == (False, "InProgress")
    assert poll_delay(as_response("op_in_progress").headers) == 10.0
    assert operation_done(as_response("op_succeeded")) == (True, "Succeeded")
    with pytest.raises(ArmError) as info:
        operation_done(as_response("op_failed"))
    assert info.value.code == "VMExtensionProvisioningError"


def test_run_command_results() -> None:
    linux = parse_run_command(example("runcommand_result_linux")["body"])
    assert (linux.rc, linux.stdout, linux.stderr) == (0, "bar red car\n", "warn\n")
    split = parse_run_command(example("runcommand_result_split")["body"])
    assert (split.rc, split.stdout) == (3, "hello\n")


def test_extension_get_is_judged() -> None:
    step = CustomScriptValidation("t", "validate", Risk.REVERSIBLE, {"vm_path": "/x"})
    outcome = step.judge(example("extension_get")["body"])
    assert outcome.done and outcome.detail == "fipswizard-validate Succeeded"


def test_error_bodies_and_429() -> None:
    assert isinstance(error_from_response(as_httpx("error_404")), NotFound)
    region = error_from_response(as_httpx("error_region"))
    assert isinstance(region, RegionNotSupported) and region.code == "BadRequest"
    throttled = as_httpx("throttle_429")
    assert retry_after(throttled.headers) == 120.0
    assert error_from_response(throttled).code == "TooManyRequests"


async def test_feature_and_provider_examples_drive_the_feature_step() -> None:
    """ "registered" (lowercase, as the examples) counts; the provider is awaited."""
    answers = {
        ("GET", FEATURE): ["feature_get"],
        ("POST", PROVIDER + "/register"): ["provider_register"],
        ("GET", PROVIDER): ["provider_get"],
    }
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(f"{request.method} {request.url.path}")
        names = answers[(request.method, request.url.path)]
        return as_httpx(names[0])

    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("t", "t")),
        correlation_id="c",
        transport=httpx.MockTransport(handler),
    )
    settings = Settings()
    step = FeatureStep(
        "sub",
        "opt in",
        Risk.REVERSIBLE,
        {
            "endpoint": "https://management.azure.com",
            "api": settings.features_api,
            "resources_api": settings.resources_api,
            "subscription": DEMO_SUBSCRIPTION,
            "feature": settings.feature_name,
            "unregister": False,
        },
    )

    class NoQuestions:
        async def approve(self, items: object) -> set[tuple[str, str]]:
            raise AssertionError

    ctx = Context(NoQuestions(), replace(settings, feature_poll=0.0), arm=arm)
    async with arm:
        assert (await step.check(ctx)).done
        await step.apply(ctx, await step.check(ctx))
    assert sent[-2:] == [f"POST {PROVIDER}/register", f"GET {PROVIDER}"]
    assert not any(s.endswith("/features/OptInToFips1403Compliance/register") for s in sent)


async def test_a_429_example_beyond_the_budget_stops_at_once() -> None:
    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("t", "t")),
        correlation_id="c",
        transport=httpx.MockTransport(lambda request: as_httpx("throttle_429")),
        max_throttle_wait=60,
    )
    async with arm:
        with pytest.raises(Throttled, match="120s"):
            await arm.get(VM, COMPUTE["api-version"])


# ---------------------------------------------------------------- the sandbox, same shapes


def assert_same_shape(
    name: str, got: Any, paths: list[str], *, optional: tuple[str, ...] = ()
) -> None:
    want = shape(example(name)["body"], paths)
    have = shape(got, paths)
    for path in optional:  # present in one answer only by circumstance (e.g. the flag unset)
        if _MISSING in (want[path], have[path]):
            want.pop(path), have.pop(path)
    assert have == want, f"sandbox answer differs from {name} at the paths we read"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_sandbox_vm_reads_have_the_spec_shape(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, op_seconds=2)
    async with arm_client(sandbox) as c:
        plain = (await c.get(VM, params=COMPUTE)).json()
        expanded = (await c.get(VM, params={**COMPUTE, "$expand": "instanceView"})).json()
        view = (await c.get(VM + "/instanceView", params=COMPUTE)).json()
    flag = ("properties.additionalCapabilities.enableFips1403Encryption",)
    assert_same_shape("vm_get", plain, VM_PATHS, optional=flag)
    assert_same_shape("vm_get_expand_instance_view", expanded, VM_PATHS, optional=flag)
    # $expand=instanceView embeds the same VirtualMachineInstanceView as GET instanceView
    assert_same_shape("vm_instance_view", expanded["properties"]["instanceView"], VIEW_PATHS)
    assert_same_shape("vm_instance_view", view, VIEW_PATHS)


async def test_sandbox_writes_and_operations_have_the_spec_shape(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, op_seconds=2, registration_seconds=1)
    async with arm_client(sandbox) as c:
        await c.post(FEATURE + "/register", params=FEATURES)
        clock.advance(1)
        await c.post(PROVIDER + "/register", params=COMPUTE)
        put = await c.put(VM, params=COMPUTE, json={"location": "uksouth", **FIPS_ON})
        assert put.status_code == example("vm_put_200")["status"]
        assert "Azure-AsyncOperation" in put.headers
        assert_same_shape("vm_put_200", put.json(), VM_PATHS)
        running = await c.get(put.headers["Azure-AsyncOperation"])
        assert_same_shape("op_in_progress", running.json(), OP_PATHS)
        done = await wait_operation(c, put, clock)
        assert_same_shape("op_succeeded", done.json(), [*OP_PATHS, "endTime"])
        deallocate = await c.post(VM + "/deallocate", params=COMPUTE)
        assert deallocate.status_code == 202 and "monitor=true" in deallocate.headers["Location"]
        await wait_operation(c, deallocate, clock)


async def test_sandbox_features_provider_extensions_run_command_errors(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, op_seconds=2, registration_seconds=1)
    async with arm_client(sandbox) as c:
        assert_same_shape(
            "feature_get", (await c.get(FEATURE, params=FEATURES)).json(), FEATURE_PATHS
        )
        registered = await c.post(FEATURE + "/register", params=FEATURES)
        assert_same_shape("feature_register", registered.json(), FEATURE_PATHS)
        provider = await c.post(PROVIDER + "/register", params=COMPUTE)
        assert_same_shape("provider_register", provider.json(), PROVIDER_PATHS)
        got = await c.get(PROVIDER, params=COMPUTE)
        assert_same_shape("provider_get", got.json(), PROVIDER_PATHS)

        ext_url = VM + "/extensions/fipswizard-validate"
        body = {
            "location": "uksouth",
            "properties": {
                "publisher": "Microsoft.Azure.Extensions",
                "type": "CustomScript",
                "typeHandlerVersion": "2.1",
                "settings": {},
                "protectedSettings": {"commandToExecute": "true"},
            },
        }
        put = await c.put(ext_url, params=COMPUTE, json=body)
        assert put.status_code == example("extension_put_201")["status"]
        assert_same_shape("extension_put_201", put.json(), EXT_PATHS)
        await wait_operation(c, put, clock)
        assert_same_shape("extension_get", (await c.get(ext_url, params=COMPUTE)).json(), EXT_PATHS)

        run = await c.post(
            VM + "/runCommand",
            params=COMPUTE,
            json={"commandId": "RunShellScript", "script": ["echo hi"]},
        )
        assert run.status_code == 202
        assert "Location" in run.headers and "Azure-AsyncOperation" in run.headers
        result = await wait_operation(c, run, clock, use_location=True)
        assert_same_shape("runcommand_result_linux", result.json(), RESULT_PATHS)
        assert parse_run_command(result.json()).stdout == "hi\n"

        missing = await c.get(VM.replace("ubuntu2204-web", "no-such-vm"), params=COMPUTE)
        assert missing.status_code == 404
        assert_same_shape("error_404", missing.json(), ERROR_PATHS)


async def test_sandbox_429_has_the_spec_shape(clock: FakeClock) -> None:
    from fipswizard.sandbox import BucketSpec

    sandbox = SandboxAzure(clock=clock, reads=BucketSpec(burst=1, rate=1, retry_after=120))
    async with arm_client(sandbox) as c:
        await c.get(VM, params=COMPUTE)
        limited = await c.get(VM, params=COMPUTE)
    assert limited.status_code == 429
    assert_same_shape("throttle_429", limited.json(), ERROR_PATHS)
    assert limited.headers["Retry-After"] == example("throttle_429")["headers"]["Retry-After"]
