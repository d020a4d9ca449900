"""Sandbox: Microsoft.Features registration, provider register, auth and common headers."""

from __future__ import annotations

import httpx
import pytest

from fipswizard.sandbox import FakeClock, SandboxAzure
from fipswizard.sandbox.estate import DEMO_SUBSCRIPTION, GOV_SUBSCRIPTION
from fipswizard.sandbox.testing import ARM, arm_client

FEATURE = "/providers/Microsoft.Features/providers/Microsoft.Compute/features/" \
          "OptInToFips1403Compliance"
FAPI = {"api-version": "2021-07-01"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxAzure:
    return SandboxAzure(clock=clock, registration_seconds=30, op_seconds=5)


async def test_register_goes_registering_then_registered_after_time(
        sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        before = (await c.get(url, params=FAPI)).json()
        assert before["properties"]["state"] == "NotRegistered"
        assert before["name"] == "Microsoft.Compute/OptInToFips1403Compliance"
        assert before["type"] == "Microsoft.Features/providers/features"
        reg = await c.post(url + "/register", params=FAPI)
        assert reg.status_code == 200
        assert reg.json()["properties"]["state"] == "Registering"
        clock.advance(29)
        assert (await c.get(url, params=FAPI)).json()["properties"]["state"] == "Registering"
        clock.advance(1)
        assert (await c.get(url, params=FAPI)).json()["properties"]["state"] == "Registered"
        # Registering again is a no-op that reports the current state.
        again = await c.post(url + "/register", params=FAPI)
        assert again.json()["properties"]["state"] == "Registered"


async def test_unregister_goes_unregistering_then_not_registered(
        sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        await c.post(url + "/register", params=FAPI)
        clock.advance(30)
        out = await c.post(url + "/unregister", params=FAPI)
        assert out.json()["properties"]["state"] == "Unregistering"
        clock.advance(30)
        assert (await c.get(url, params=FAPI)).json()["properties"]["state"] == "NotRegistered"


async def test_unregister_while_registering_cancels_the_registration(
        sandbox: SandboxAzure, clock: FakeClock) -> None:
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        await c.post(url + "/register", params=FAPI)
        clock.advance(10)
        await c.post(url + "/unregister", params=FAPI)
        clock.advance(100)
        assert (await c.get(url, params=FAPI)).json()["properties"]["state"] == "NotRegistered"


async def test_unknown_feature_is_404_feature_not_found(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        bogus = f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Features/providers/" \
                "Microsoft.Compute/features/NoSuchFeature"
        r = await c.get(bogus, params=FAPI)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "FeatureNotFound"
        # The second demo subscription models the doc revision that dropped the feature.
        gov = await c.post(f"/subscriptions/{GOV_SUBSCRIPTION}{FEATURE}/register", params=FAPI)
        assert gov.status_code == 404
        assert gov.json()["error"]["code"] == "FeatureNotFound"


async def test_feature_path_matching_is_case_insensitive(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        url = f"/SUBSCRIPTIONS/{DEMO_SUBSCRIPTION}{FEATURE}".replace("Microsoft.Features",
                                                                     "microsoft.features")
        r = await c.get(url.replace("OptInToFips1403Compliance", "optintofips1403compliance"),
                        params=FAPI)
        assert r.status_code == 200
        assert r.json()["name"] == "Microsoft.Compute/OptInToFips1403Compliance"


async def test_provider_register_and_get(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        base = f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute"
        r = await c.post(base + "/register", params={"api-version": "2025-04-01"})
        assert r.status_code == 200
        assert r.json()["namespace"] == "Microsoft.Compute"
        assert r.json()["registrationState"] == "Registered"
        got = await c.get(base, params={"api-version": "2024-11-01"})
        assert got.json()["registrationState"] == "Registered"


async def test_feature_api_version_checked(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        missing = await c.get(url)
        assert missing.status_code == 400
        assert missing.json()["error"]["code"] == "MissingApiVersionParameter"
        wrong = await c.get(url, params={"api-version": "2024-11-01"})
        assert wrong.json()["error"]["code"] == "InvalidApiVersionParameter"


@pytest.mark.parametrize("auth", [None, "Bearer ", "Basic abc", "Bearer"])
async def test_requests_without_a_bearer_token_get_401(sandbox: SandboxAzure,
                                                      auth: str | None) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    async with httpx.AsyncClient(transport=sandbox.transport(), base_url=ARM) as c:
        r = await c.get(f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}", params=FAPI,
                        headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "AuthenticationFailed"
    assert sandbox.log.entries()[-1]["status"] == 401


async def test_common_headers_and_correlation_echo(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        r = await c.get(url, params=FAPI, headers={"x-ms-correlation-request-id": "corr-1"})
        assert r.headers["x-ms-correlation-request-id"] == "corr-1"
        assert r.headers["x-ms-request-id"]
        assert r.headers["x-ms-ratelimit-remaining-subscription-reads"] == "249"
        w = await c.post(url + "/register", params=FAPI)
        assert w.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
        assert w.headers["x-ms-correlation-request-id"] != "corr-1"


async def test_subscriptions_and_resource_groups_are_listed(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        subs = (await c.get("/subscriptions", params={"api-version": "2022-12-01"})).json()
        ids = {s["subscriptionId"] for s in subs["value"]}
        assert ids == {DEMO_SUBSCRIPTION, GOV_SUBSCRIPTION}
        groups = (await c.get(f"/subscriptions/{GOV_SUBSCRIPTION}/resourcegroups",
                              params={"api-version": "2022-12-01"})).json()
        assert [g["name"] for g in groups["value"]] == ["fips-demo-gov"]
