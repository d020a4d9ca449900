"""Sandbox: VM GET shapes, PUT/PATCH merge, preconditions, region and feature gates."""

from __future__ import annotations

import httpx
import pytest

from fipswizard.sandbox import FakeClock, SandboxAzure
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION, GOV_GROUP, GOV_SUBSCRIPTION
from fipswizard.sandbox.model import PACKAGE_FIPS, PACKAGE_LEGACY
from fipswizard.sandbox.testing import arm_client, vm_path, wait_operation

API = {"api-version": "2024-11-01"}
FEATURE = (f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Features/providers/"
           "Microsoft.Compute/features/OptInToFips1403Compliance")
FIPS_ON = {"properties": {"additionalCapabilities": {"enableFips1403Encryption": True}}}


def demo_vm(name: str) -> str:
    return vm_path(DEMO_SUBSCRIPTION, DEMO_GROUP, name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxAzure:
    return SandboxAzure(clock=clock, op_seconds=5, registration_seconds=30)


async def opt_in_subscription(c: httpx.AsyncClient, clock: FakeClock) -> None:
    await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
    clock.advance(30)
    await c.post(f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute/register",
                 params=API)


async def test_get_vm_shape(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        r = await c.get(demo_vm("rhel95-db"), params=API)
    assert r.status_code == 200
    vm = r.json()
    assert vm["name"] == "rhel95-db"
    assert vm["type"] == "Microsoft.Compute/virtualMachines"
    assert vm["location"] == "westus2"
    assert vm["id"].endswith("/resourceGroups/fips-demo/providers/Microsoft.Compute/"
                             "virtualMachines/rhel95-db")
    assert vm["etag"].startswith('"') and vm["etag"].endswith('"')
    assert r.headers["ETag"] == vm["etag"]
    props = vm["properties"]
    assert props["provisioningState"] == "Succeeded"
    assert props["storageProfile"]["imageReference"]["publisher"] == "RedHat"
    assert props["storageProfile"]["imageReference"]["sku"] == "9_5"
    assert props["osProfile"]["secrets"] == []
    assert props["hardwareProfile"]["vmSize"]
    assert "additionalCapabilities" not in props  # only present when set
    assert "instanceView" not in props


async def test_already_opted_in_vm_shows_the_flag(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        vm = (await c.get(demo_vm("rhel94-app"), params=API)).json()
    assert vm["properties"]["additionalCapabilities"] == {"enableFips1403Encryption": True}


async def test_instance_view_expand_and_endpoint(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        expanded = (await c.get(demo_vm("ubuntu2204-web"),
                                params={**API, "$expand": "instanceView"})).json()
        view = expanded["properties"]["instanceView"]
        direct = (await c.get(demo_vm("ubuntu2204-web") + "/instanceView", params=API)).json()
        broken = (await c.get(demo_vm("rhel96-notready") + "/instanceView", params=API)).json()
    assert view["vmAgent"]["vmAgentVersion"] == "2.15.0.1"
    assert view["vmAgent"]["statuses"][0]["displayStatus"] == "Ready"
    assert view["vmAgent"]["statuses"][0]["code"] == "ProvisioningState/succeeded"
    assert view["osName"] == "ubuntu" and view["osVersion"] == "22.04"
    codes = [s["code"] for s in view["statuses"]]
    assert "PowerState/running" in codes
    assert direct["vmAgent"]["vmAgentVersion"] == "2.15.0.1"
    assert direct["vmAgent"]["statuses"][0]["displayStatus"] == "Ready"
    agent = broken["vmAgent"]
    assert agent["statuses"][0]["displayStatus"] == "Not Ready"
    assert agent["statuses"][0]["message"] == "VM Agent is unresponsive."
    assert agent["vmAgentVersion"] == "Unknown"


async def test_list_vms_in_group_and_subscription(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        group = (await c.get(f"/subscriptions/{DEMO_SUBSCRIPTION}/resourceGroups/{DEMO_GROUP}"
                             "/providers/Microsoft.Compute/virtualMachines", params=API)).json()
        sub = (await c.get(f"/subscriptions/{GOV_SUBSCRIPTION}/providers/Microsoft.Compute/"
                           "virtualMachines", params=API)).json()
    assert len(group["value"]) == 9
    assert {v["name"] for v in sub["value"]} == {"ubuntu2204-batch"}


async def test_unknown_vm_group_and_api_version(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        missing = await c.get(demo_vm("nope"), params=API)
        no_group = await c.get(vm_path(DEMO_SUBSCRIPTION, "nope", "x"), params=API)
        bad_api = await c.get(demo_vm("rhel95-db"), params={"api-version": "2099-01-01"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ResourceNotFound")
    assert no_group.json()["error"]["code"] == "ResourceGroupNotFound"
    assert (bad_api.status_code, bad_api.json()["error"]["code"]) == \
        (400, "InvalidApiVersionParameter")


async def test_put_with_wrong_if_match_is_412_and_changes_nothing(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        before = (await c.get(demo_vm("ubuntu2204-web"), params=API)).json()
        body = {"location": "uksouth", "tags": {"owner": "x"}}
        r = await c.put(demo_vm("ubuntu2204-web"), params=API, json=body,
                        headers={"If-Match": '"999"'})
        assert r.status_code == 412
        assert r.json()["error"]["code"] == "PreconditionFailed"
        after = (await c.get(demo_vm("ubuntu2204-web"), params=API)).json()
        assert after == before
        ok = await c.put(demo_vm("ubuntu2204-web"), params=API, json=body,
                         headers={"If-Match": before["etag"]})
        assert ok.status_code == 200
        assert ok.json()["etag"] != before["etag"]


async def test_region_rejection_body_is_exact(sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        await opt_in_subscription(c, clock)
        r = await c.put(demo_vm("ubuntu2204-mexico") + "/", params=API,
                        json={"location": "mexicocentral", **FIPS_ON})
    assert r.status_code == 400
    assert r.json() == {"error": {
        "code": "BadRequest",
        "message": "Creation of VMs using a Fips 140-3 compliant encryption for extension "
                   "settings isn't supported in this region."}}
    assert sandbox.estate.vms["ubuntu2204-mexico"].fips_flag is False


async def test_flag_needs_feature_registered_and_provider_reregistered(
        sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        body = {"location": "uksouth", **FIPS_ON}
        r = await c.put(demo_vm("ubuntu2204-web"), params=API, json=body)
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "OperationNotAllowed"
        assert "not registered for the feature" in r.json()["error"]["message"]
        await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
        clock.advance(30)
        r = await c.put(demo_vm("ubuntu2204-web"), params=API, json=body)
        assert r.status_code == 400
        assert "re-register" in r.json()["error"]["message"]
        await c.post(f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute/register",
                     params=API)
        r = await c.put(demo_vm("ubuntu2204-web"), params=API, json=body)
        assert r.status_code == 200


async def test_subscription_without_the_feature_may_set_the_flag(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        r = await c.put(vm_path(GOV_SUBSCRIPTION, GOV_GROUP, "ubuntu2204-batch"), params=API,
                        json={"location": "westus3", **FIPS_ON})
    assert r.status_code == 200


async def test_put_runs_as_lro_via_azure_asyncoperation(sandbox: SandboxAzure,
                                                       clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        await opt_in_subscription(c, clock)
        r = await c.put(demo_vm("ubuntu2204-web"), params={"api-version": "2025-04-01"},
                        json={"location": "UK South", **FIPS_ON})
        assert r.status_code == 200
        assert r.json()["properties"]["provisioningState"] == "Updating"
        assert r.json()["properties"]["additionalCapabilities"]["enableFips1403Encryption"]
        op_url = r.headers["Azure-AsyncOperation"]
        assert "/providers/Microsoft.Compute/locations/uksouth/operations/" in op_url
        assert "api-version=2025-04-01" in op_url
        assert int(r.headers["Retry-After"]) >= 1
        first = await c.get(op_url)
        assert first.json()["status"] == "InProgress"
        done = await wait_operation(c, r, clock)
        assert done.json()["status"] == "Succeeded"
        vm = (await c.get(demo_vm("ubuntu2204-web"), params=API)).json()
    assert vm["properties"]["provisioningState"] == "Succeeded"
    # The partial body merged: the rest of the VM is untouched.
    assert vm["properties"]["storageProfile"]["imageReference"]["sku"] == "pro-22_04-lts-gen2"
    # Setting the flag alone does not issue a new certificate package.
    assert sandbox.estate.vms["ubuntu2204-web"].cert_package == PACKAGE_LEGACY


async def test_put_requires_location_patch_does_not(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        r = await c.put(demo_vm("rhel94-app"), params=API, json={"tags": {"a": "b"}})
        assert r.status_code == 400
        assert r.json()["error"]["code"] == "LocationRequired"
        wrong = await c.put(demo_vm("rhel94-app"), params=API, json={"location": "eastus"})
        assert wrong.status_code == 400
        p = await c.patch(demo_vm("rhel94-app"), params=API, json={"tags": {"a": "b"}})
        assert p.status_code == 200
        assert p.json()["tags"] == {"a": "b"}
        assert "Azure-AsyncOperation" in p.headers


async def test_flag_type_is_validated(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        r = await c.patch(vm_path(GOV_SUBSCRIPTION, GOV_GROUP, "ubuntu2204-batch"), params=API,
                          json={"properties": {"additionalCapabilities": {
                              "enableFips1403Encryption": "yes"}}})
        assert r.status_code == 400
        ok = await c.patch(vm_path(GOV_SUBSCRIPTION, GOV_GROUP, "ubuntu2204-batch"), params=API,
                           json={"properties": {"additionalCapabilities": {
                               "enableFips1403Encryption": "true"}}})
    assert ok.json()["properties"]["additionalCapabilities"]["enableFips1403Encryption"] is True


async def test_key_vault_secret_change_regenerates_package(sandbox: SandboxAzure,
                                                          clock: FakeClock) -> None:
    secrets = [{"sourceVault": {"id": "/subscriptions/x/resourceGroups/kv/providers/"
                                      "Microsoft.KeyVault/vaults/fipskv"},
                "vaultCertificates": [{"certificateUrl":
                                       "https://fipskv.vault.azure.net/secrets/pfx/abc"}]}]
    vm = sandbox.estate.vms["ubuntu2204-batch"]
    async with arm_client(sandbox) as c:
        path = vm_path(GOV_SUBSCRIPTION, GOV_GROUP, "ubuntu2204-batch")
        await wait_operation(c, await c.put(path, params=API, json={"location": "westus3",
                                                                      **FIPS_ON}), clock)
        assert vm.cert_package == PACKAGE_LEGACY
        bad = await c.patch(path, params=API, json={"properties": {"osProfile": {
            "secrets": [{"vaultCertificates": []}]}}})
        assert bad.status_code == 400
        r = await c.patch(path, params=API, json={"properties": {"osProfile": {
            "secrets": secrets}}})
        assert r.status_code == 200
        assert vm.cert_package == PACKAGE_LEGACY  # only once the update finished
        await wait_operation(c, r, clock)
        got = (await c.get(path, params=API)).json()
    assert vm.cert_package == PACKAGE_FIPS
    assert got["properties"]["osProfile"]["secrets"] == secrets
    assert got["properties"]["osProfile"]["adminUsername"] == "azureuser"
