"""Sandbox: Microsoft.Features registration, provider register, auth and common headers."""

from __future__ import annotations

import httpx
import pytest

from fipswizard.azure.arm import ArmClient, NotFound
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.azure.steps_feature import FeatureStep
from fipswizard.context import Context, Settings
from fipswizard.engine.steps import Risk
from fipswizard.sandbox import FakeClock, Faults, SandboxAzure
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION, GOV_SUBSCRIPTION
from fipswizard.sandbox.testing import ARM, arm_client, vm_path
from fipswizard.secrets import Secret

FEATURE = (
    "/providers/Microsoft.Features/providers/Microsoft.Compute/features/OptInToFips1403Compliance"
)
FAPI = {"api-version": "2021-07-01"}
RAPI = {"api-version": "2025-04-01"}
CAPI = {"api-version": "2025-04-01"}
FIPS_ON = {"properties": {"additionalCapabilities": {"enableFips1403Encryption": True}}}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> SandboxAzure:
    return SandboxAzure(clock=clock, registration_seconds=30, op_seconds=5)


async def test_register_goes_registering_then_registered_after_time(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
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
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        await c.post(url + "/register", params=FAPI)
        clock.advance(30)
        out = await c.post(url + "/unregister", params=FAPI)
        assert out.json()["properties"]["state"] == "Unregistering"
        clock.advance(30)
        assert (await c.get(url, params=FAPI)).json()["properties"]["state"] == "NotRegistered"


async def test_unregister_while_registering_cancels_the_registration(
    sandbox: SandboxAzure, clock: FakeClock
) -> None:
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        await c.post(url + "/register", params=FAPI)
        clock.advance(10)
        await c.post(url + "/unregister", params=FAPI)
        clock.advance(100)
        assert (await c.get(url, params=FAPI)).json()["properties"]["state"] == "NotRegistered"


async def test_unknown_feature_is_404_feature_not_found(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        bogus = (
            f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Features/providers/"
            "Microsoft.Compute/features/NoSuchFeature"
        )
        r = await c.get(bogus, params=FAPI)
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "FeatureNotFound"
        # The second demo subscription models the doc revision that dropped the feature.
        gov = await c.post(f"/subscriptions/{GOV_SUBSCRIPTION}{FEATURE}/register", params=FAPI)
        assert gov.status_code == 404
        assert gov.json()["error"]["code"] == "FeatureNotFound"


async def test_feature_path_matching_is_case_insensitive(sandbox: SandboxAzure) -> None:
    async with arm_client(sandbox) as c:
        url = f"/SUBSCRIPTIONS/{DEMO_SUBSCRIPTION}{FEATURE}".replace(
            "Microsoft.Features", "microsoft.features"
        )
        r = await c.get(
            url.replace("OptInToFips1403Compliance", "optintofips1403compliance"), params=FAPI
        )
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
async def test_requests_without_a_bearer_token_get_401(
    sandbox: SandboxAzure, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth is not None else {}
    async with httpx.AsyncClient(transport=sandbox.transport(), base_url=ARM) as c:
        r = await c.get(
            f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}", params=FAPI, headers=headers
        )
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
        groups = (
            await c.get(
                f"/subscriptions/{GOV_SUBSCRIPTION}/resourcegroups",
                params={"api-version": "2022-12-01"},
            )
        ).json()
        assert [g["name"] for g in groups["value"]] == ["fips-demo-gov"]


# ---- answer modes: lowercase states, a provider that takes its time (faults.py)


async def test_lowercase_feature_states_as_the_spec_examples(clock: FakeClock) -> None:
    sandbox = SandboxAzure(
        clock=clock, registration_seconds=30, faults=Faults(feature_state_case="lower")
    )
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        assert (await c.get(url, params=FAPI)).json()["properties"]["state"] == "notregistered"
        reg = await c.post(url + "/register", params=FAPI)
        assert reg.json()["properties"]["state"] == "registering"
        clock.advance(30)
        assert (await c.get(url, params=FAPI)).json()["properties"]["state"] == "registered"
    # the model keeps its canonical state: only the answers change
    assert sandbox.state()["features"][DEMO_SUBSCRIPTION] == {
        "Microsoft.Compute/OptInToFips1403Compliance": "Registered"
    }


async def test_provider_stays_registering_and_blocks_the_flag_until_done(clock: FakeClock) -> None:
    sandbox = SandboxAzure(
        clock=clock, registration_seconds=1, op_seconds=1, faults=Faults(provider_seconds=40)
    )
    async with arm_client(sandbox) as c:
        url = f"/subscriptions/{DEMO_SUBSCRIPTION}{FEATURE}"
        await c.post(url + "/register", params=FAPI)
        clock.advance(1)
        base = f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute"
        reg = await c.post(base + "/register", params=RAPI)
        assert reg.json()["registrationState"] == "Registering"
        vm = vm_path(DEMO_SUBSCRIPTION, DEMO_GROUP, "ubuntu2204-web")
        early = await c.put(vm, params=CAPI, json={"location": "uksouth", **FIPS_ON})
        assert early.status_code >= 400 and "still registering" in early.text
        clock.advance(39)
        assert (await c.get(base, params=RAPI)).json()["registrationState"] == "Registering"
        clock.advance(1)
        assert (await c.get(base, params=RAPI)).json()["registrationState"] == "Registered"
        late = await c.put(vm, params=CAPI, json={"location": "uksouth", **FIPS_ON})
        assert late.status_code == 200


# ---- the feature step against the sandbox (D4, D7, D8)


class _NoQuestions:
    async def approve(self, items: object) -> set[tuple[str, str]]:
        raise AssertionError("the feature step asks nothing")


def _feature_step(subscription: str = DEMO_SUBSCRIPTION) -> FeatureStep:
    settings = Settings()
    return FeatureStep(
        f"subscription {subscription}",
        "opt in",
        Risk.REVERSIBLE,
        {
            "endpoint": ARM,
            "api": settings.features_api,
            "resources_api": settings.resources_api,
            "subscription": subscription,
            "feature": settings.feature_name,
            "unregister": False,
        },
    )


async def _context(
    sandbox: SandboxAzure, lines: list[str], clock: FakeClock
) -> tuple[Context, ArmClient]:
    """The step, the client and the sandbox on one virtual clock: the real poll (10 s) and
    the sandbox's registration times cost no wall-clock time (0.5 s before, shrunk)."""

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("sandbox-token", "t")),
        correlation_id="c",
        transport=sandbox.transport(),
        sleep=sleep,
        clock=clock,
    )
    ctx = Context(_NoQuestions(), arm=arm, progress=lines.append, clock=clock, sleep=sleep)
    return ctx, arm


async def test_feature_step_accepts_lowercase_states() -> None:
    clock = FakeClock()
    sandbox = SandboxAzure(
        clock=clock, registration_seconds=30, faults=Faults(feature_state_case="lower")
    )
    lines: list[str] = []
    ctx, arm = await _context(sandbox, lines, clock)
    step = _feature_step()
    async with arm:
        before = await step.check(ctx)
        assert not before.done and "notregistered" in before.detail
        await step.apply(ctx, before)  # old code: "registration ended in state registering"
        after = await step.check(ctx)
    assert after.done and after.detail == "feature state registered"


async def test_feature_step_waits_for_the_provider_to_be_registered() -> None:
    clock = FakeClock()
    sandbox = SandboxAzure(
        clock=clock, registration_seconds=30, faults=Faults(provider_seconds=120)
    )
    lines: list[str] = []
    ctx, arm = await _context(sandbox, lines, clock)
    step = _feature_step()
    async with arm:
        await step.apply(ctx, await step.check(ctx))
        base = f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Compute"
        state = (await arm.get(base, RAPI["api-version"])).body["registrationState"]
    assert state == "Registered"  # apply returned only once the provider was registered
    assert any(line.startswith("provider Microsoft.Compute Registering") for line in lines)
    gets = [e for e in sandbox.log.entries() if e["method"] == "GET" and e["path"] == base]
    assert gets, "the provider was never read after the re-register"
    assert any(
        a.method == "GET" and a.url.startswith(f"{ARM}{base}?") for a in step.actions()
    )  # and the preview says so


async def test_feature_step_skips_only_a_missing_feature() -> None:
    lines: list[str] = []
    clock = FakeClock()
    sandbox = SandboxAzure(clock=clock, registration_seconds=30)
    ctx, arm = await _context(sandbox, lines, clock)
    async with arm:
        retired = await _feature_step(GOV_SUBSCRIPTION).check(ctx)  # FeatureNotFound
        assert retired.done and "does not exist" in retired.detail
        with pytest.raises(NotFound) as info:  # old code: "skipped (newer Azure ...)"
            await _feature_step("99999999-0000-0000-0000-000000000000").check(ctx)
    assert info.value.code == "SubscriptionNotFound"
    assert "az account list" in info.value.advice
