"""Sandbox: VM GET shapes, PUT/PATCH merge, preconditions, region and feature gates."""

from __future__ import annotations

import httpx
import pytest

from fipswizard.sandbox import FakeClock, SandboxAzure, demo_estate
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION, GOV_GROUP, GOV_SUBSCRIPTION
from fipswizard.sandbox.model import PACKAGE_FIPS, PACKAGE_LEGACY
from fipswizard.sandbox.testing import arm_client, vm_path, wait_operation

API = {"api-version": "2024-11-01"}
FEATURE = (
    f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Features/providers/"
    "Microsoft.Compute/features/OptInToFips1403Compliance"
)
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
    await c.post(
        f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute/register", params=API
    )


async def test_get_vm_shape(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        r = await c.get(demo_vm("rhel95-db"), params=API)
    assert r.status_code == 200
    vm = r.json()
    assert vm["name"] == "rhel95-db"
    assert vm["type"] == "Microsoft.Compute/virtualMachines"
    assert vm["location"] == "westus2"
    assert vm["id"].endswith(
        "/resourceGroups/fips-demo/providers/Microsoft.Compute/virtualMachines/rhel95-db"
    )
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
        expanded = (
            await c.get(demo_vm("ubuntu2204-web"), params={**API, "$expand": "instanceView"})
        ).json()
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
        group = (
            await c.get(
                f"/subscriptions/{DEMO_SUBSCRIPTION}/resourceGroups/{DEMO_GROUP}"
                "/providers/Microsoft.Compute/virtualMachines",
                params=API,
            )
        ).json()
        sub = (
            await c.get(
                f"/subscriptions/{GOV_SUBSCRIPTION}/providers/Microsoft.Compute/virtualMachines",
                params=API,
            )
        ).json()
    assert len(group["value"]) == 10  # the demo group (ubuntu2204-bootstrap included)
    assert {v["name"] for v in sub["value"]} == {"ubuntu2204-batch"}


async def test_unknown_vm_group_and_api_version(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        missing = await c.get(demo_vm("nope"), params=API)
        no_group = await c.get(vm_path(DEMO_SUBSCRIPTION, "nope", "x"), params=API)
        bad_api = await c.get(demo_vm("rhel95-db"), params={"api-version": "2099-01-01"})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "ResourceNotFound")
    assert no_group.json()["error"]["code"] == "ResourceGroupNotFound"
    assert (bad_api.status_code, bad_api.json()["error"]["code"]) == (
        400,
        "InvalidApiVersionParameter",
    )


async def test_put_with_wrong_if_match_is_412_and_changes_nothing(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        before = (await c.get(demo_vm("ubuntu2204-web"), params=API)).json()
        body = {"location": "uksouth", "tags": {"owner": "x"}}
        r = await c.put(
            demo_vm("ubuntu2204-web"), params=API, json=body, headers={"If-Match": '"999"'}
        )
        assert r.status_code == 412
        assert r.json()["error"]["code"] == "PreconditionFailed"
        after = (await c.get(demo_vm("ubuntu2204-web"), params=API)).json()
        assert after == before
        ok = await c.put(
            demo_vm("ubuntu2204-web"), params=API, json=body, headers={"If-Match": before["etag"]}
        )
        assert ok.status_code == 200
        assert ok.json()["etag"] != before["etag"]


async def test_region_rejection_body_is_exact(sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        await opt_in_subscription(c, clock)
        r = await c.put(
            demo_vm("ubuntu2204-mexico") + "/",
            params=API,
            json={"location": "mexicocentral", **FIPS_ON},
        )
    assert r.status_code == 400
    assert r.json() == {
        "error": {
            "code": "BadRequest",
            "message": "Creation of VMs using a Fips 140-3 compliant encryption for extension "
            "settings isn't supported in this region.",
        }
    }
    assert sandbox.estate.vms["ubuntu2204-mexico"].fips_flag is False


async def test_flag_needs_feature_registered_and_provider_reregistered(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
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
        await c.post(
            f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute/register", params=API
        )
        r = await c.put(demo_vm("ubuntu2204-web"), params=API, json=body)
        assert r.status_code == 200


async def test_subscription_without_the_feature_may_set_the_flag(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        r = await c.put(
            vm_path(GOV_SUBSCRIPTION, GOV_GROUP, "ubuntu2204-batch"),
            params=API,
            json={"location": "westus3", **FIPS_ON},
        )
    assert r.status_code == 200


async def test_put_runs_as_lro_via_azure_asyncoperation(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    async with arm_client(sandbox) as c:
        await opt_in_subscription(c, clock)
        r = await c.put(
            demo_vm("ubuntu2204-web"),
            params={"api-version": "2025-04-01"},
            json={"location": "UK South", **FIPS_ON},
        )
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
        r = await c.patch(
            vm_path(GOV_SUBSCRIPTION, GOV_GROUP, "ubuntu2204-batch"),
            params=API,
            json={"properties": {"additionalCapabilities": {"enableFips1403Encryption": "yes"}}},
        )
        assert r.status_code == 400
        ok = await c.patch(
            vm_path(GOV_SUBSCRIPTION, GOV_GROUP, "ubuntu2204-batch"),
            params=API,
            json={"properties": {"additionalCapabilities": {"enableFips1403Encryption": "true"}}},
        )
    assert ok.json()["properties"]["additionalCapabilities"]["enableFips1403Encryption"] is True


async def test_key_vault_secret_change_regenerates_package(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    secrets = [
        {
            "sourceVault": {
                "id": "/subscriptions/x/resourceGroups/kv/providers/"
                "Microsoft.KeyVault/vaults/fipskv"
            },
            "vaultCertificates": [
                {"certificateUrl": "https://fipskv.vault.azure.net/secrets/pfx/abc"}
            ],
        }
    ]
    vm = sandbox.estate.vms["ubuntu2204-batch"]
    async with arm_client(sandbox) as c:
        path = vm_path(GOV_SUBSCRIPTION, GOV_GROUP, "ubuntu2204-batch")
        await wait_operation(
            c, await c.put(path, params=API, json={"location": "westus3", **FIPS_ON}), clock
        )
        assert vm.cert_package == PACKAGE_LEGACY
        bad = await c.patch(
            path,
            params=API,
            json={"properties": {"osProfile": {"secrets": [{"vaultCertificates": []}]}}},
        )
        assert bad.status_code == 400
        r = await c.patch(
            path, params=API, json={"properties": {"osProfile": {"secrets": secrets}}}
        )
        assert r.status_code == 200
        assert vm.cert_package == PACKAGE_LEGACY  # only once the update finished
        await wait_operation(c, r, clock)
        got = (await c.get(path, params=API)).json()
    assert vm.cert_package == PACKAGE_FIPS
    assert got["properties"]["osProfile"]["secrets"] == secrets
    assert got["properties"]["osProfile"]["adminUsername"] == "azureuser"


# ---------------------------------------------------------------- never write from a bad read
# (issue 7 item 8): an unparseable or malformed VM body fails that VM alone, with no write.


def _apply_env(monkeypatch: pytest.MonkeyPatch) -> tuple[SandboxAzure, object]:
    from fipswizard.session import Options
    from tests.inproc import FAST

    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "token-for-bad-reads")
    az = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    return az, Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=az.transport()
    )


def _recipe(az: SandboxAzure, *names: str) -> object:
    from fipswizard.context import Target
    from fipswizard.recipe import Recipe, RecipeTarget

    vms = [az.estate.vms[n] for n in names]
    return Recipe(
        targets=tuple(
            RecipeTarget(Target(v.subscription, v.resource_group, v.name), "auto") for v in vms
        )
    )


def _writes_to(az: SandboxAzure, name: str) -> list[str]:
    return [
        f"{e['method']} {e['path']}"
        for e in az.log.writes()
        if f"/virtualmachines/{name}".lower() in e["path"].lower()
    ]


async def test_bad_first_read_fails_that_vm_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    from pathlib import Path

    from fipswizard.engine.prompter import HeadlessPrompter
    from fipswizard.session import run_apply

    az, opts = _apply_env(monkeypatch)
    az.estate.vms["ubuntu2204-web"].bad_reads = [b'{"properties": {"additionalCap']
    az.estate.vms["ubuntu2204-bootstrap"].bad_reads = [
        {"location": "uksouth", "properties": "oops"}
    ]
    recipe = _recipe(az, "ubuntu2204-web", "ubuntu2204-bootstrap", "rhel94-app")
    done = await run_apply(
        recipe,
        opts,
        HeadlessPrompter(True),  # type: ignore[arg-type]
        Path(str(tmp_path)) / "j",
        lambda e: None,
    )
    rows = {k.rsplit("/", 1)[-1]: t for k, t in done.targets.items()}
    assert str(rows["rhel94-app"].outcome) == "compliant", done.to_text()
    for name in ("ubuntu2204-web", "ubuntu2204-bootstrap"):
        assert str(rows[name].outcome) == "failed"
        assert "could not read" in rows[name].detail and "nothing was written" in (
            rows[name].detail + rows[name].advice
        )
        assert _writes_to(az, name) == []
    assert "'properties' is str 'oops'" in rows["ubuntu2204-bootstrap"].detail


async def test_no_put_without_etag_or_location(
    monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    """Every read of the VM answers without an ETag: the flag PUT is never sent (no PUT
    without If-Match); a body without `location` fails as malformed."""
    from pathlib import Path

    from fipswizard.engine.prompter import HeadlessPrompter
    from fipswizard.sandbox.views import vm_json
    from fipswizard.session import run_apply

    az, opts = _apply_env(monkeypatch)
    vm = az.estate.vms["ubuntu2204-web"]
    body = vm_json(vm, az.iso(az.now()), instance_view=True)
    del body["etag"]
    vm.bad_reads = [body] * 50
    other = az.estate.vms["rhel94-app"]
    no_location = vm_json(other, az.iso(az.now()), instance_view=True)
    del no_location["location"]
    other.bad_reads = [no_location] * 50
    recipe = _recipe(az, "ubuntu2204-web", "rhel94-app")
    done = await run_apply(
        recipe,
        opts,
        HeadlessPrompter(True),  # type: ignore[arg-type]
        Path(str(tmp_path)) / "j",
        lambda e: None,
    )
    rows = {k.rsplit("/", 1)[-1]: t for k, t in done.targets.items()}
    assert "no ETag" in rows["ubuntu2204-web"].detail, done.to_text()
    assert not [w for w in _writes_to(az, "ubuntu2204-web") if w.startswith("PUT")]
    assert not vm.fips_flag
    assert "'location'" in rows["rhel94-app"].detail and _writes_to(az, "rhel94-app") == []


def test_vm_facts_is_strict() -> None:
    from fipswizard.azure.vm_model import MalformedResource, vm_facts

    good = {"location": "westus2", "properties": {"additionalCapabilities": {"x": 1}}}
    assert vm_facts(good, '"1"').capabilities == {"x": 1}
    for bad, says in (
        ("<html>", "'body'"),
        ({"location": "westus2", "properties": "oops"}, "'properties'"),
        ({"properties": {}}, "'location'"),
        ({"location": "", "properties": {}}, "'location'"),
        ({"location": "w", "properties": {"additionalCapabilities": []}}, "additionalCap"),
        (
            {
                "location": "w",
                "properties": {"additionalCapabilities": {"enableFips1403Encryption": "yes"}},
            },
            "enableFips1403Encryption",
        ),
        ({"location": "w", "properties": {"osProfile": {"secrets": {}}}}, "secrets"),
    ):
        with pytest.raises(MalformedResource) as err:
            vm_facts(bad, None, "VM v1")
        assert says in str(err.value) and "VM v1" in str(err.value)
