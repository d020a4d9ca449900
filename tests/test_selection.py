"""Selecting a fleet: resource group, tags, Resource Graph KQL, names, exclusions; paging,
ARG quota, and drift between the frozen list and what the selector selects now."""

from __future__ import annotations

import json

import httpx
import pytest

from fipswizard.azure.arm import ArmClient
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.azure.selection import Selector, drift, resolve
from fipswizard.errors import BadInput
from fipswizard.sandbox import arm_list
from fipswizard.sandbox.clock import FakeClock
from fipswizard.sandbox.core import SandboxAzure
from fipswizard.sandbox.estate import Estate, new_vm
from fipswizard.sandbox.model import Subscription
from fipswizard.sandbox.os_images import make_guest
from fipswizard.secrets import Secret

SUB_A = "aaaaaaaa-0000-1111-2222-333333333333"
SUB_B = "bbbbbbbb-0000-1111-2222-333333333333"
API = "2025-04-01"
VMS = "Microsoft.Compute/virtualMachines"


def fleet() -> Estate:
    """30 VMs in RG web-fleet and 3 in RG other (sub A); 5 tagged env=prod, 3 env=dev and 1
    tagged ENV=prod-like in sub B."""
    estate = Estate()
    estate.add_subscription(Subscription(SUB_A, "a"))
    estate.add_subscription(Subscription(SUB_B, "b"))

    def add(sub: str, group: str, name: str, tags: dict[str, str] | None = None) -> None:
        vm = new_vm(
            sub, group, name, "westus2", "ubuntu-pro-2204", make_guest("ubuntu-pro-2204"), ""
        )
        vm.tags = tags or {}
        estate.add_vm(vm)

    for i in range(30):
        add(SUB_A, "web-fleet", f"web{i:02d}")
    for i in range(3):
        add(SUB_A, "other", f"other{i}", {"env": "staging"})
    for i in range(5):
        add(SUB_B, "apps" if i % 2 else "Batch", f"prod{i}", {"Env": "prod", "owner": "x"})
    for i in range(3):
        add(SUB_B, "apps", f"dev{i}", {"env": "dev"})
    add(SUB_B, "apps", "prodlike", {"env": "Prod"})  # values compare exactly
    return estate


def client(sandbox: SandboxAzure, clock: FakeClock | None = None) -> ArmClient:
    async def sleep(seconds: float) -> None:
        if clock is not None:
            clock.advance(seconds)

    return ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("sandbox-token", "t")),
        correlation_id="c",
        transport=sandbox.transport(),
        sleep=sleep,
        clock=clock or FakeClock(),
    )


EXPECTED = {f"{SUB_A}/web-fleet/web{i:02d}" for i in range(30)} | {
    f"{SUB_B}/{'apps' if i % 2 else 'Batch'}/prod{i}" for i in range(5)
}
KQL = (
    "Resources | where type =~ 'microsoft.compute/virtualmachines' "
    "| where (subscriptionId == '" + SUB_A + "' and resourceGroup =~ 'web-fleet') "
    "or (subscriptionId == '" + SUB_B + "' and tags['Env'] == 'prod') | project id, name"
)


async def test_rg_plus_tags_in_another_subscription_is_exactly_35_paged() -> None:
    sandbox = SandboxAzure(fleet())
    sel = Selector(subscriptions=(SUB_A, SUB_B), resource_groups=("web-fleet",), tags=("env=prod",))
    async with client(sandbox) as arm:
        found = await resolve(arm, sel, API)
    assert {f.key for f in found.vms} == EXPECTED and len(found.vms) == 35
    lists = [e for e in sandbox.log.entries() if e["path"].lower().endswith("virtualmachines")]
    # 30 VMs in one group at PAGE_SIZE 10: the nextLink was followed, not just the first page
    assert sum("skiptoken" in e["query"].lower() for e in lists) >= 2
    assert all(e["method"] == "GET" for e in sandbox.log.entries())


async def test_kql_form_selects_the_same_35_across_pages() -> None:
    sandbox = SandboxAzure(fleet())
    async with client(sandbox) as arm:
        found = await resolve(arm, Selector(subscriptions=(SUB_A, SUB_B), query=KQL), API)
    assert {f.key for f in found.vms} == EXPECTED


async def test_graph_skiptoken_is_followed(monkeypatch: pytest.MonkeyPatch) -> None:
    from fipswizard.azure import selection

    monkeypatch.setattr(selection, "GRAPH_PAGE", 7)
    sandbox = SandboxAzure(fleet())
    async with client(sandbox) as arm:
        found = await resolve(arm, Selector(subscriptions=(SUB_A, SUB_B), query=KQL), API)
    assert {f.key for f in found.vms} == EXPECTED
    posts = [e for e in sandbox.log.entries() if e["method"] == "POST"]
    assert len(posts) == 5  # 35 rows at 7 a page


async def test_graph_quota_is_waited_out_not_hammered(monkeypatch: pytest.MonkeyPatch) -> None:
    from fipswizard.azure import selection

    monkeypatch.setattr(selection, "GRAPH_PAGE", 2)  # 18 pages > the 15-per-5 s quota
    clock = FakeClock()
    sandbox = SandboxAzure(fleet(), clock=clock)

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    async with client(sandbox, clock) as arm:
        sel = Selector(subscriptions=(SUB_A, SUB_B), query=KQL)
        found = await resolve(arm, sel, API, sleep)
    assert {f.key for f in found.vms} == EXPECTED
    statuses = [e["status"] for e in sandbox.log.entries() if e["method"] == "POST"]
    assert statuses.count(200) == 18 and 429 not in statuses
    assert clock() >= 5


async def test_vm_added_later_is_newly_selected_and_removed_one_no_longer() -> None:
    estate = fleet()
    sandbox = SandboxAzure(estate)
    sel = Selector(subscriptions=(SUB_A, SUB_B), resource_groups=("web-fleet",), tags=("env=prod",))
    async with client(sandbox) as arm:
        frozen = [f.key for f in (await resolve(arm, sel, API)).vms]
        late = new_vm(
            SUB_A,
            "web-fleet",
            "web30",
            "westus2",
            "ubuntu-pro-2204",
            make_guest("ubuntu-pro-2204"),
            "",
        )
        estate.add_vm(late)
        del estate.vms["prod0"]
        d = await drift(arm, sel, frozen, API)
    assert d.newly_selected == [f"{SUB_A}/web-fleet/web30"]
    assert d.no_longer_selected == [f"{SUB_B}/Batch/prod0"]
    assert "newly selected" in d.lines()[0] and "web30" in d.lines()[0]


async def test_vm_names_exclusions_and_ambiguity() -> None:
    sandbox = SandboxAzure(fleet())
    async with client(sandbox) as arm:
        sel = Selector(
            subscriptions=(SUB_A, SUB_B),
            resource_groups=("web-fleet",),
            vms=("apps/dev1",),
            exclude=("web00", "web-fleet/web01"),
        )
        found = await resolve(arm, sel, API)
        keys = {f.key for f in found.vms}
        assert f"{SUB_B}/apps/dev1" in keys and len(keys) == 29
        assert not any(k.endswith(("/web00", "/web01")) for k in keys)
        with pytest.raises(BadInput, match="found 0 VMs"):
            await resolve(arm, Selector(subscriptions=(SUB_A,), vms=("nope",)), API)
        with pytest.raises(BadInput, match="not found in subscription"):
            await resolve(arm, Selector(subscriptions=(SUB_A,), resource_groups=("gone",)), API)
        with pytest.raises(BadInput, match="KEY=VALUE"):
            await resolve(arm, Selector(subscriptions=(SUB_A,), tags=("env",)), API)


async def test_unsupported_kql_is_refused_clearly() -> None:
    sandbox = SandboxAzure(fleet())
    async with client(sandbox) as arm:
        with pytest.raises(Exception) as err:
            await resolve(arm, Selector(query="Resources | summarize count() by type"), API)
    assert "InvalidQuery" in str(err.value) or "not in the sandbox's KQL subset" in str(err.value)


async def test_query_rows_without_id_and_scale_set_instances() -> None:
    vmss = f"/subscriptions/{SUB_A}/resourceGroups/pool/providers/Microsoft.Compute"
    rows = [
        {"id": f"{vmss}/virtualMachineScaleSets/pool/virtualMachines/3", "name": "pool_3"},
        {
            "id": f"{vmss}/virtualMachines/pool_ab12",
            "name": "pool_ab12",
            "properties": {
                "virtualMachineScaleSet": {"id": f"{vmss}/virtualMachineScaleSets/pool"}
            },
        },
        {"id": f"{vmss}/disks/d1", "name": "d1"},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        data = rows if "id" in body["query"] else [{"name": "x"}]
        return httpx.Response(200, json={"totalRecords": 3, "count": 3, "data": data})

    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("t", "t")),
        correlation_id="c",
        transport=httpx.MockTransport(handler),
    )
    async with arm:
        found = await resolve(arm, Selector(query="Resources | project id"), API)
        with pytest.raises(BadInput, match="`id` column"):
            await resolve(arm, Selector(query="Resources | project name"), API)
    assert [f.name for f in found.vms] == ["pool_ab12"]
    assert found.vms[0].scale_set.endswith("/virtualMachineScaleSets/pool")
    assert "scale set pool" in found.not_targets[0] and "propagate" in found.not_targets[0]
    assert "not a virtual machine" in found.not_targets[1]


async def test_sandbox_list_pages_and_rejects_forged_skiptoken() -> None:
    sandbox = SandboxAzure(fleet())
    async with client(sandbox) as arm:
        path = f"/subscriptions/{SUB_A}/resourceGroups/web-fleet/providers/{VMS}"
        first = await arm.get(path, API)
        assert len(first.body["value"]) == arm_list.PAGE_SIZE and "nextLink" in first.body
        with pytest.raises(Exception, match="InvalidSkipToken"):
            await arm.get(path, API, **{"$skiptoken": "forged"})


async def test_sandbox_lists_a_flexible_scale_sets_vms_by_filter() -> None:
    from fipswizard.sandbox import demo_estate
    from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION

    sandbox = SandboxAzure(demo_estate())
    group = f"/subscriptions/{DEMO_SUBSCRIPTION}/resourceGroups/{DEMO_GROUP}"
    vmss = f"{group}/providers/Microsoft.Compute/virtualMachineScaleSets/webpool"
    async with client(sandbox) as arm:
        got = await arm.get(
            f"{group}/providers/{VMS}", API, **{"$filter": f"virtualMachineScaleSet/id eq '{vmss}'"}
        )
        assert [vm["name"] for vm in got.body["value"]] == ["webpool_4f2a9c1e"]
        assert got.body["value"][0]["properties"]["virtualMachineScaleSet"]["id"] == vmss
        with pytest.raises(Exception, match="InvalidParameter"):
            await arm.get(f"{group}/providers/{VMS}", API, **{"$filter": "name eq 'x'"})


async def test_uniform_scale_set_instances_are_recognised_not_targets() -> None:
    estate = fleet()
    pool = f"/subscriptions/{SUB_A}/resourceGroups/web-fleet/providers/Microsoft.Compute"
    pool += "/virtualMachineScaleSets/batchpool"
    estate.uniform_scale_sets[pool] = ["0", "1", "5"]
    sandbox = SandboxAzure(estate)
    kql = (
        "ComputeResources | where type =~ 'microsoft.compute/virtualmachinescalesets/"
        "virtualmachines' | project id, name"
    )
    async with client(sandbox) as arm:
        found = await resolve(arm, Selector(subscriptions=(SUB_A,), query=kql), API)
        listed = await arm.get(f"{pool}/virtualMachines", API)
    assert found.vms == []
    assert len(found.not_targets) == 3
    assert all("scale set batchpool" in n and "propagate" in n for n in found.not_targets)
    assert [v["name"] for v in listed.body["value"]] == [
        "batchpool_0",
        "batchpool_1",
        "batchpool_5",
    ]
    assert not [e for e in sandbox.log.entries() if e["method"] not in ("GET", "POST")]
