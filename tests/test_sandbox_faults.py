"""Sandbox: throttling, fault injection, dropped connections, the request log, control API."""

from __future__ import annotations

import json

import httpx
import pytest

from fipswizard.sandbox import BucketSpec, FakeClock, Faults, Rule, SandboxAzure
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION
from fipswizard.sandbox.testing import arm_client, vm_path, wait_operation

API = {"api-version": "2024-11-01"}
TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOi-sandbox-secret-token"
PASSWORD = "Very-Secret-Pa55-91x"
FEATURE = (
    f"/subscriptions/{DEMO_SUBSCRIPTION}/providers/Microsoft.Features/providers/"
    "Microsoft.Compute/features/OptInToFips1403Compliance"
)


def demo_vm(name: str) -> str:
    return vm_path(DEMO_SUBSCRIPTION, DEMO_GROUP, name)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_write_bucket_429_with_retry_after_and_refill(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, writes=BucketSpec(burst=3, rate=0.5))
    async with arm_client(sandbox) as c:
        seen = []
        for _ in range(3):
            r = await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
            seen.append(r.headers["x-ms-ratelimit-remaining-subscription-writes"])
        assert seen == ["2", "1", "0"]
        limited = await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "TooManyRequests"
        assert limited.headers["Retry-After"] == "2"  # one token at 0.5/s
        # Reads have their own bucket.
        assert (await c.get(FEATURE, params={"api-version": "2021-07-01"})).status_code == 200
        clock.advance(1.2)
        again = await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
        assert again.headers["Retry-After"] == "1"  # 0.4 s left, rounded up, at least 1
        clock.advance(0.8)
        ok = await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
    assert ok.status_code == 200


async def test_fault_503_happens_before_any_state_change(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, faults=Faults(fault_rate=1.0))
    async with arm_client(sandbox) as c:
        r = await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "ServiceUnavailable"
        assert r.headers["Retry-After"] == "1"
        assert (
            sandbox.estate.subscriptions[DEMO_SUBSCRIPTION]
            .features["microsoft.compute/optintofips1403compliance"]
            .state
            == "NotRegistered"
        )
        # Faults never touch the control API, and can be switched off at runtime.
        off = await c.post("/_sandbox/faults", json={"fault_rate": 0})
        assert off.status_code == 200 and off.json()["fault_rate"] == 0
        ok = await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
    assert ok.json()["properties"]["state"] == "Registering"


async def test_random_faults_are_reproducible_with_a_seed(clock: FakeClock) -> None:
    async def statuses(seed: int) -> list[int]:
        sandbox = SandboxAzure(
            clock=clock, faults=Faults(fault_rate=0.3, seed=seed, fault_status=500)
        )
        async with arm_client(sandbox) as c:
            return [(await c.get(demo_vm("rhel95-db"), params=API)).status_code for _ in range(40)]

    first, second = await statuses(5), await statuses(5)
    assert first == second
    assert 500 in first and 200 in first


async def test_drop_before_apply_changes_nothing(clock: FakeClock) -> None:
    sandbox = SandboxAzure(
        clock=clock,
        faults=Faults(
            rules=[Rule(action="drop-before", method="PUT", path="virtualMachines/rhel94-app$")]
        ),
    )
    async with arm_client(sandbox) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.put(
                demo_vm("rhel94-app"), params=API, json={"location": "westus2", "tags": {"k": "v"}}
            )
        vm = (await c.get(demo_vm("rhel94-app"), params=API)).json()
        log = (await c.get("/_sandbox/requests")).json()
    assert "tags" not in vm
    assert log[0]["dropped"] == "before" and log[0]["status"] == 0


async def test_drop_after_apply_keeps_the_change(clock: FakeClock) -> None:
    sandbox = SandboxAzure(
        clock=clock,
        op_seconds=3,
        faults=Faults(rules=[Rule(action="drop-after", method="PUT", path="rhel94-app")]),
    )
    async with arm_client(sandbox) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            await c.put(
                demo_vm("rhel94-app"), params=API, json={"location": "westus2", "tags": {"k": "v"}}
            )
        vm = (await c.get(demo_vm("rhel94-app"), params=API)).json()
        # The rule fired once; a retry goes through.
        retry = await c.put(
            demo_vm("rhel94-app"), params=API, json={"location": "westus2", "tags": {"k": "v"}}
        )
        log = (await c.get("/_sandbox/requests")).json()
    assert vm["tags"] == {"k": "v"}
    assert retry.status_code == 200
    assert [e.get("dropped") for e in log] == ["after", None, None]
    assert log[0]["status"] == 200 and log[0]["write"] is True


async def test_random_drops_pick_both_phases(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, faults=Faults(drop_rate=1.0, seed=3))
    async with arm_client(sandbox) as c:
        for _ in range(20):
            with pytest.raises(httpx.RemoteProtocolError):
                await c.get(demo_vm("rhel95-db"), params=API)
    phases = {e["dropped"] for e in sandbox.log.entries()}
    assert phases == {"before", "after"}


async def test_request_log_never_holds_secrets(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, op_seconds=1)
    async with arm_client(sandbox, token=TOKEN) as c:
        r = await c.put(
            demo_vm("rhel94-app") + "/extensions/enablevmaccess",
            params=API,
            json={
                "properties": {
                    "publisher": "Microsoft.OSTCExtensions",
                    "type": "VMAccessForLinux",
                    "typeHandlerVersion": "1.5",
                    "settings": {},
                    "protectedSettings": {"username": "fw", "password": PASSWORD},
                }
            },
        )
        assert "protectedSettings" not in r.json()["properties"]
        await wait_operation(c, r, clock)
        ext = await c.get(
            demo_vm("rhel94-app") + "/extensions/enablevmaccess",
            params={**API, "$expand": "instanceView"},
        )
        vm = await c.get(demo_vm("rhel94-app"), params={**API, "$expand": "instanceView"})
        log = await c.get("/_sandbox/requests")
        state = await c.get("/_sandbox/state")
    dumped = json.dumps(log.json()) + state.text + ext.text + vm.text
    assert PASSWORD not in dumped and TOKEN not in dumped
    assert "Bearer" not in log.text
    entry = log.json()[0]
    assert set(entry) == {"seq", "t", "method", "path", "query", "status", "write"}
    assert entry["method"] == "PUT" and entry["query"] == "api-version=2024-11-01"
    assert state.json()["guests"]["rhel94-app"]["users"]["fw"]["password_set"] is True
    assert sandbox.estate.vms["rhel94-app"].extensions["enablevmaccess"].protected is None


async def test_control_api(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, op_seconds=30)
    async with arm_client(sandbox) as c:
        await c.get(demo_vm("rhel95-db"), params=API)
        assert len((await c.get("/_sandbox/requests")).json()) == 1
        assert (await c.get("/_sandbox/requests", params={"since": 1})).json() == []
        assert (await c.post("/_sandbox/reset-log")).json() == {"cleared": 1}
        bad = await c.post("/_sandbox/faults", json={"fault_rate": 2})
        assert bad.status_code == 400
        unknown = await c.post("/_sandbox/faults", json={"nonsense": 1})
        assert unknown.status_code == 400
        changed = await c.post(
            "/_sandbox/faults",
            json={"write_rate": 1, "write_burst": 1, "op_seconds": 2, "latency": 0},
        )
        assert changed.json()["write_burst"] == 1 and sandbox.op_seconds == 2
        await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
        limited = await c.post(FEATURE + "/register", params={"api-version": "2021-07-01"})
        assert limited.status_code == 429
        clock.advance(1)  # one write token back at 1/s
        r = await c.post(demo_vm("rhel95-db") + "/deallocate", params=API)
        assert r.status_code == 202
        assert sandbox.estate.vms["rhel95-db"].power_state == "deallocating"
        await c.post("/_sandbox/advance", json={"seconds": 2})
        scenarios = (await c.get("/_sandbox/scenarios")).json()
        state = (await c.get("/_sandbox/state")).json()
    assert state["vms"]["rhel95-db"]["power_state"] == "deallocated"
    assert "mexicocentral" in scenarios["ubuntu2204-mexico"].lower().replace(" ", "")
    assert state["features"][DEMO_SUBSCRIPTION] == {
        "Microsoft.Compute/OptInToFips1403Compliance": "Registering"
    }
    assert set(state) >= {"vms", "features", "guests"}


# ---- answer modes (faults.py docstring; reference arm-conformance.md section 5)

FIPS_ON = {"properties": {"additionalCapabilities": {"enableFips1403Encryption": True}}}
COMPUTE = {"api-version": "2025-04-01"}


async def test_long_429_window_answers_the_remaining_time_not_a_fresh_one(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock, writes=BucketSpec(burst=1, rate=10, retry_after=120))
    async with arm_client(sandbox) as c:
        url, fapi = FEATURE + "/register", {"api-version": "2021-07-01"}
        assert (await c.post(url, params=fapi)).status_code == 200
        first = await c.post(url, params=fapi)
        assert first.status_code == 429 and first.headers["Retry-After"] == "120"
        clock.advance(90)  # the bucket refilled long ago, but the window still holds
        early = await c.post(url, params=fapi)
        assert early.status_code == 429 and early.headers["Retry-After"] == "30"
        clock.advance(30)
        assert (await c.post(url, params=fapi)).status_code == 200


@pytest.mark.parametrize(
    ("mode", "seconds", "expected"),
    [
        ("integer", 0.3, {"Retry-After": "1"}),
        ("integer", 5, {"Retry-After": "5"}),
        ("fast", 0.3, {"retry-after-ms": "300"}),
        ("fast", 5, {"Retry-After": "5"}),
        ("none", 5, {}),
        ("both", 0.3, {"Retry-After": "1", "retry-after-ms": "300"}),
    ],
)
async def test_poll_hint_modes(
    clock: FakeClock, mode: str, seconds: float, expected: dict[str, str]
) -> None:
    sandbox = SandboxAzure(clock=clock, op_seconds=seconds, faults=Faults(poll_hints=mode))
    async with arm_client(sandbox) as c:
        r = await c.post(demo_vm("rhel95-db") + "/deallocate", params=COMPUTE)
        status = await c.get(r.headers["Azure-AsyncOperation"])
    for answer in (r, status):
        hints = {
            k: answer.headers[k] for k in ("Retry-After", "retry-after-ms") if k in answer.headers
        }
        assert hints == expected


async def test_control_api_sets_answer_modes(clock: FakeClock) -> None:
    sandbox = SandboxAzure(clock=clock)
    async with arm_client(sandbox) as c:
        ok = await c.post(
            "/_sandbox/faults",
            json={
                "poll_hints": "integer",
                "feature_state_case": "lower",
                "provider_seconds": 40,
                "write_retry_after": 120,
                "read_retry_after": 60,
            },
        )
        assert ok.status_code == 200
        got = ok.json()
        assert (got["poll_hints"], got["feature_state_case"], got["provider_seconds"]) == (
            "integer",
            "lower",
            40.0,
        )
        assert (got["write_retry_after"], got["read_retry_after"]) == (120.0, 60.0)
        for bad in (
            {"poll_hints": "sometimes"},
            {"feature_state_case": "upper"},
            {"provider_seconds": -1},
            {"write_retry_after": -5},
        ):
            refused = await c.post("/_sandbox/faults", json=bad)
            assert refused.status_code == 400, bad
        assert (await c.get("/_sandbox/faults")).json()["poll_hints"] == "integer"


async def test_arm_client_waits_a_long_429_in_full_against_the_sandbox(clock: FakeClock) -> None:
    """End to end: the sandbox's 120 s window and the client's gate, on the sandbox clock."""
    from fipswizard.azure.arm import ArmClient
    from fipswizard.azure.clouds import CLOUDS
    from fipswizard.azure.credentials import StaticToken
    from fipswizard.secrets import Secret

    async def sleep(seconds: float) -> None:
        clock.advance(seconds)

    # Refilling slower than ARM's documented 10/s, so the client's copy of the bucket (paced at
    # 10/s) still sends into the empty bucket and meets the long 429.
    sandbox = SandboxAzure(clock=clock, writes=BucketSpec(burst=1, rate=0.01, retry_after=120))
    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret(TOKEN, "t")),
        correlation_id="c",
        transport=sandbox.transport(),
        sleep=sleep,
        clock=clock,
    )
    async with arm:
        path = FEATURE + "/register"
        await arm.post(path, "2021-07-01", retry_safe=True)
        start = clock()
        await arm.post(path, "2021-07-01", retry_safe=True)
    posts = [e for e in sandbox.log.entries() if e["method"] == "POST"]
    assert [e["status"] for e in posts] == [200, 429, 200]
    assert clock() - start >= 120 and arm.stats["throttled"] == 1


async def test_arm_client_polls_integer_retry_after_once_a_second(clock: FakeClock) -> None:
    from fipswizard.azure.arm import ArmClient
    from fipswizard.azure.clouds import CLOUDS
    from fipswizard.azure.credentials import StaticToken
    from fipswizard.secrets import Secret

    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    sandbox = SandboxAzure(clock=clock, op_seconds=0.3, faults=Faults(poll_hints="integer"))
    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret(TOKEN, "t")),
        correlation_id="c",
        transport=sandbox.transport(),
        sleep=sleep,
        clock=clock,
    )
    async with arm:
        await arm.post(demo_vm("rhel95-db") + "/deallocate", "2025-04-01")
    assert sleeps == [1.0]  # Retry-After: 1 wins; no sub-second polling against whole seconds
    assert sandbox.estate.vms["rhel95-db"].power_state == "deallocated"
