"""ARM client against httpx.MockTransport: URLs, headers, LROs, retries, errors, throttle gates.

No sockets, no real sleeping: a virtual clock advances only when every task is asleep.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import random
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import httpx
import pytest

import fipswizard
from fipswizard.azure.arm import (
    ArmAuthError,
    ArmClient,
    ArmError,
    ArmResponse,
    NotFound,
    PreconditionFailed,
    RegionNotSupported,
)
from fipswizard.azure.clouds import CLOUDS, Cloud, resolve_cloud
from fipswizard.azure.credentials import StaticToken
from fipswizard.errors import AuthError, BadInput, ExitCode
from fipswizard.secrets import Secret

TOKEN = "eyJ0eXAi.secret-token-do-not-leak.sig"
SUB = "00000000-0000-0000-0000-000000000001"
VM = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"
API = "2025-04-01"
ARM = "https://management.azure.com"
OP = f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/operations/op1"


class VirtualTime:
    """Fake clock + sleep: time jumps to the next wake-up once all tasks are asleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._timers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, *coros: Coroutine[Any, Any, Any]) -> list[Any]:
        tasks = [asyncio.ensure_future(c) for c in coros]
        while True:
            for _ in range(20):
                await asyncio.sleep(0)
            pending = [t for t in tasks if not t.done()]
            if not pending:
                break
            if len(self._timers) == len(pending):  # everyone is asleep: advance time
                when, _, future = heapq.heappop(self._timers)
                self.now = max(self.now, when)
                future.set_result(None)
        return [t.result() for t in tasks]


Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class Server:
    """A scripted ARM: records every request (with virtual time) and answers from `handler`."""

    def __init__(self, vt: VirtualTime, handler: Handler) -> None:
        self.vt = vt
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(self.vt.now)
        result = self.handler(request)
        if not isinstance(result, httpx.Response):
            result = await result
        return result

    @property
    def calls(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]


def queue(*responses: httpx.Response | Exception) -> Handler:
    """Answer requests in order from a fixed list."""
    items = list(responses)

    def handle(request: httpx.Request) -> httpx.Response:
        item = items.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handle


def resp(status: int, body: Any = None, **headers: str) -> httpx.Response:
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    if body is None:
        return httpx.Response(status, headers=hdrs)
    return httpx.Response(status, json=body, headers=hdrs)


def error(status: int, code: str, message: str, **headers: str) -> httpx.Response:
    return resp(status, {"error": {"code": code, "message": message}}, **headers)


def make(
    handler: Handler, cloud: Cloud = CLOUDS["AzureCloud"], **kwargs: Any
) -> tuple[ArmClient, Server, VirtualTime]:
    vt = VirtualTime()
    server = Server(vt, handler)
    client = ArmClient(
        cloud,
        StaticToken(Secret(TOKEN, "test token")),
        correlation_id="corr-1234",
        transport=httpx.MockTransport(server),
        sleep=vt.sleep,
        clock=vt.clock,
        rng=random.Random(7),
        **kwargs,
    )
    return client, server, vt


async def one(vt: VirtualTime, coro: Coroutine[Any, Any, Any]) -> Any:
    return (await vt.run(coro))[0]


async def raises(vt: VirtualTime, coro: Coroutine[Any, Any, Any]) -> BaseException:
    async def wrapped() -> BaseException:
        try:
            await coro
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            return exc
        raise AssertionError("no exception")

    err: BaseException = await one(vt, wrapped())
    return err


def assert_no_token(err: BaseException) -> None:
    for text in (str(err), repr(err), str(err.args)):
        assert TOKEN not in text and "secret-token" not in text


# ---------------------------------------------------------------- URLs and headers


def test_url_for_each_cloud() -> None:
    expected = {
        "AzureCloud": "https://management.azure.com",
        "AzureUSGovernment": "https://management.usgovcloudapi.net",
    }
    for name, base in expected.items():
        client, _, _ = make(queue(), CLOUDS[name])
        assert client.url(VM, API) == f"{base}{VM}?api-version={API}"
    custom = resolve_cloud("custom", arm_endpoint="http://127.0.0.1:8443/", authority="login.x")
    client, _, _ = make(queue(), custom)
    assert client.url(VM, API, **{"$expand": "instanceView"}) == (
        f"http://127.0.0.1:8443{VM}?api-version={API}&$expand=instanceView"
    )
    with pytest.raises(ValueError):
        client.url("subscriptions/x", API)
    with pytest.raises(ValueError):
        client.url(VM + "?api-version=1", API)


def test_client_refuses_plain_http_to_remote_host() -> None:
    cloud = Cloud("custom", "http://arm.example.com", "login.example", "x/.default")
    with pytest.raises(BadInput, match="loopback"):
        make(queue(), cloud)


async def test_headers_on_every_request() -> None:
    client, server, vt = make(queue(resp(200, {"name": "vm1"}), resp(200, {"name": "vm1"})))
    await vt.run(client.get(VM, API), client.get(VM, API))
    first, second = server.requests
    for request in server.requests:
        assert request.headers["authorization"] == f"Bearer {TOKEN}"
        assert request.headers["user-agent"] == f"fipswizard/{fipswizard.__version__}"
        assert request.headers["accept"] == "application/json"
        assert request.headers["x-ms-correlation-request-id"] == "corr-1234"
    assert first.headers["x-ms-client-request-id"] != second.headers["x-ms-client-request-id"]
    assert len(first.headers["x-ms-client-request-id"]) == 36
    assert str(first.url) == f"{ARM}{VM}?api-version={API}"
    assert client.stats["GET"] == 2
    await client.aclose()


async def test_put_sends_json_and_if_match() -> None:
    client, server, vt = make(queue(resp(200, {"name": "vm1", "etag": '"e2"'})))
    body = {"location": "eastus", "properties": {"additionalCapabilities": {"x": True}}}
    result = await one(vt, client.put(VM, API, body, if_match='"e1"'))
    request = server.requests[0]
    assert request.method == "PUT" and request.headers["if-match"] == '"e1"'
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == body
    assert result.etag == '"e2"'


def test_etag_header_wins_over_body() -> None:
    headers = httpx.Headers({"ETag": '"h"'})
    assert ArmResponse(200, headers, {"etag": '"b"'}).etag == '"h"'
    assert ArmResponse(200, httpx.Headers(), {"etag": '"b"'}).etag == '"b"'
    assert ArmResponse(200, httpx.Headers(), None).etag is None


# ---------------------------------------------------------------- long-running operations


async def test_put_lro_via_azure_async_operation_then_final_get() -> None:
    client, server, vt = make(
        queue(
            resp(
                201,
                {"properties": {"provisioningState": "Updating"}},
                Azure_AsyncOperation=OP,
                Retry_After="3",
            ),
            resp(200, {"status": "InProgress"}, Retry_After="5"),
            resp(200, {"status": "Succeeded"}),
            resp(200, {"name": "vm1", "properties": {"provisioningState": "Succeeded"}}),
        )
    )
    lines: list[str] = []
    result = await one(vt, client.put(VM, API, {"location": "eastus"}, progress=lines.append))
    assert server.calls == [
        f"PUT {VM}",
        f"GET {OP[len(ARM) :]}",
        f"GET {OP[len(ARM) :]}",
        f"GET {VM}",
    ]
    assert str(server.requests[-1].url) == f"{ARM}{VM}?api-version={API}"
    assert result.body["name"] == "vm1"
    assert vt.sleeps == [3.0, 5.0]
    assert lines == ["operation InProgress (3s)"]  # reported after the poll at t=3
    assert server.times[1:3] == [3.0, 8.0]


async def test_post_lro_via_location() -> None:
    loc = f"{ARM}/subscriptions/{SUB}/providers/Microsoft.Compute/locations/eastus/operations/l1"
    client, server, vt = make(
        queue(
            resp(202, Location=loc),
            resp(202, Retry_After="2"),
            resp(200, {"value": [{"message": "done"}]}),
        )
    )
    result = await one(vt, client.post(VM + "/runCommand", API, {"commandId": "RunShellScript"}))
    assert server.calls == [
        f"POST {VM}/runCommand",
        "GET " + loc[len(ARM) :],
        "GET " + loc[len(ARM) :],
    ]
    assert result.status == 200 and result.body == {"value": [{"message": "done"}]}
    assert vt.sleeps == [15.0, 2.0]  # no Retry-After on the 202: the default poll interval


async def test_post_with_both_headers_reads_location_after_success() -> None:
    loc = OP + "?monitor=true&api-version=2025-04-01"
    client, server, vt = make(
        queue(
            resp(202, Azure_AsyncOperation=OP, Location=loc),
            resp(200, {"status": "Succeeded"}),
            resp(200, {"output": "final"}),
        )
    )
    result = await one(vt, client.post(VM + "/deallocate", API))
    assert str(server.requests[-1].url) == loc
    assert result.body == {"output": "final"}


async def test_delete_returns_operation_status() -> None:
    client, server, vt = make(
        queue(resp(202, Azure_AsyncOperation=OP), resp(200, {"status": "Succeeded", "name": "op"}))
    )
    result = await one(vt, client.delete(VM + "/extensions/x", API))
    assert result.body == {"status": "Succeeded", "name": "op"}
    assert client.stats["DELETE"] == 1 and client.stats["GET"] == 1


async def test_failed_operation_raises_with_verbatim_code_and_message() -> None:
    message = "Provisioning of VM extension 'x' has timed out. (it's verbatim: {\"a\": 1})"
    client, server, vt = make(
        queue(
            resp(200, {"properties": {"provisioningState": "Updating"}}, Azure_AsyncOperation=OP),
            resp(
                200,
                {"status": "Failed", "error": {"code": "VMExtensionTimeout", "message": message}},
            ),
        )
    )
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert isinstance(err, ArmError) and not isinstance(err, RegionNotSupported)
    assert err.code == "VMExtensionTimeout" and err.message == message
    assert str(err).startswith(
        f"ARM operation Failed VMExtensionTimeout: {message}\n  what to do: "
    )
    assert len(server.requests) == 2  # no final GET after a failure


async def test_canceled_operation_without_error_body() -> None:
    client, _, vt = make(
        queue(resp(202, Azure_AsyncOperation=OP), resp(200, {"status": "Canceled"}))
    )
    err = await raises(vt, client.post(VM + "/start", API))
    assert isinstance(err, ArmError) and err.code == "OperationCanceled"


async def test_failed_operation_in_unsupported_region_is_region_error() -> None:
    text = "Creation of VMs using Fips 140-3 encryption ... isn't supported in this region."
    client, _, vt = make(
        queue(
            resp(201, None, Azure_AsyncOperation=OP),
            resp(200, {"status": "Failed", "error": {"code": "BadRequest", "message": text}}),
        )
    )
    err = await raises(vt, client.put(VM, API, {"location": "westus"}))
    assert isinstance(err, RegionNotSupported) and err.region == "westus"


async def test_put_200_updating_without_headers_polls_the_resource() -> None:
    updating = {"properties": {"provisioningState": "Updating"}}
    client, server, vt = make(
        queue(
            resp(200, updating),
            resp(200, updating, Retry_After="4"),
            resp(200, {"properties": {"provisioningState": "Succeeded"}, "n": 3}),
        )
    )
    result = await one(vt, client.put(VM, API, {"location": "eastus"}))
    assert server.calls == [f"PUT {VM}", f"GET {VM}", f"GET {VM}"]
    assert result.body["n"] == 3 and vt.sleeps == [15.0, 4.0]


async def test_put_that_ends_failed_by_provisioning_state() -> None:
    client, _, vt = make(
        queue(
            resp(200, {"properties": {"provisioningState": "Updating"}}),
            resp(200, {"properties": {"provisioningState": "Failed"}}),
        )
    )
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert isinstance(err, ArmError) and err.code == "ProvisioningFailed"


async def test_terminal_200_is_not_polled() -> None:
    client, server, vt = make(
        queue(
            resp(200, {"properties": {"provisioningState": "Succeeded"}}, Azure_AsyncOperation=OP)
        )
    )
    await one(vt, client.put(VM, API, {"location": "eastus"}))
    assert len(server.requests) == 1


async def test_lro_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            return resp(201, None, Azure_AsyncOperation=OP)
        return resp(200, {"status": "InProgress"}, Retry_After="60")

    client, server, vt = make(handler, lro_timeout=300)
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert isinstance(err, ArmError) and err.code == "OperationTimedOut"
    assert "still running" in err.advice and "InProgress" in err.message
    assert vt.now == 300 and len(server.requests) == 7  # PUT + polls at 15, 75, ..., 255, 300


async def test_poll_url_on_another_host_is_refused() -> None:
    client, server, vt = make(queue(resp(202, Azure_AsyncOperation="https://evil.example/op")))
    err = await raises(vt, client.post(VM + "/start", API))
    assert isinstance(err, ArmError) and err.code == "UntrustedPollUrl"
    assert len(server.requests) == 1


async def test_sandbox_may_call_itself_localhost() -> None:
    cloud = resolve_cloud("AzureCloud", arm_endpoint="http://127.0.0.1:9000")
    client, server, vt = make(
        queue(
            resp(202, Azure_AsyncOperation="http://localhost:9000/op"),
            resp(200, {"status": "Succeeded"}),
        ),
        cloud,
    )
    await one(vt, client.post(VM + "/start", API))
    assert server.calls[-1] == "GET /op"


# ---------------------------------------------------------------- retries


async def test_429_is_retried_after_retry_after() -> None:
    client, server, vt = make(
        queue(error(429, "TooManyRequests", "slow down", Retry_After="7"), resp(200, {"ok": 1}))
    )
    result = await one(vt, client.post(VM + "/start", API))  # even an unsafe POST: not processed
    assert result.body == {"ok": 1}
    assert len(vt.sleeps) == 1 and 7.0 <= vt.sleeps[0] <= 7.1
    assert server.times == [0.0, vt.now] and vt.now >= 7.0
    assert client.stats["throttled"] == 1 and client.stats["retries"] == 1
    assert client.stats["POST"] == 2


async def test_429_retry_after_wins_over_retry_after_ms_as_in_azure_core() -> None:
    client, _, vt = make(
        queue(resp(429, None, Retry_After="9", retry_after_ms="250"), resp(200, {}))
    )
    await one(vt, client.get(VM, API))
    assert 9.0 <= vt.sleeps[0] <= 9.1


async def test_429_for_too_long_gives_up_with_advice() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return error(429, "TooManyRequests", "excessive volume of traffic", Retry_After="60")

    client, server, vt = make(handler, max_throttle_wait=600)
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert isinstance(err, ArmError) and err.status == 429
    assert "lower the concurrency" in err.advice
    assert vt.now <= 600 and len(server.requests) == 10


async def test_503_retried_for_get_honouring_retry_after() -> None:
    client, server, vt = make(
        queue(
            error(503, "ServiceUnavailable", "busy", Retry_After="2"),
            error(502, "BadGateway", "oops"),
            resp(200, {"ok": 1}),
        )
    )
    result = await one(vt, client.get(VM, API))
    assert result.body == {"ok": 1} and len(server.requests) == 3
    assert vt.sleeps[0] == 2.0 and 0 <= vt.sleeps[1] <= 2.0  # then backoff with full jitter
    assert client.stats["retries"] == 2


async def test_503_not_retried_for_post_unless_retry_safe() -> None:
    client, server, vt = make(queue(error(503, "ServiceUnavailable", "busy"), resp(200, {})))
    err = await raises(vt, client.post(VM + "/start", API))
    assert isinstance(err, ArmError) and err.status == 503 and len(server.requests) == 1
    client, server, vt = make(queue(error(503, "ServiceUnavailable", "busy"), resp(200, {"a": 1})))
    result = await one(
        vt, client.post("/subscriptions/s/providers/X/register", API, retry_safe=True)
    )
    assert result.body == {"a": 1} and len(server.requests) == 2


async def test_500_until_max_attempts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return error(500, "InternalServerError", "boom", x_ms_request_id="req-42")

    client, server, vt = make(handler, max_attempts=4, backoff_cap=3)
    err = await raises(vt, client.get(VM, API))
    assert isinstance(err, ArmError) and err.status == 500 and len(server.requests) == 4
    assert err.request_id == "req-42" and "req-42" in err.advice
    assert all(0 <= s <= 3 for s in vt.sleeps) and len(vt.sleeps) == 3


async def test_dropped_connection_retried_for_put() -> None:
    client, server, vt = make(
        queue(
            httpx.RemoteProtocolError("Server disconnected"),
            httpx.ReadTimeout("slow"),
            resp(200, {"name": "vm1"}),
        )
    )
    result = await one(vt, client.put(VM, API, {"location": "eastus"}))
    assert result.body == {"name": "vm1"} and client.stats["PUT"] == 3


async def test_dropped_connection_on_unsafe_post_is_connection_lost() -> None:
    client, server, vt = make(queue(httpx.ReadError("connection reset"), resp(200, {})))
    err = await raises(vt, client.post(VM + "/runCommand", API, {"commandId": "x"}))
    assert isinstance(err, ArmError) and err.code == "ConnectionLost"
    assert "may or may not have run" in err.advice and len(server.requests) == 1
    assert_no_token(err)


async def test_connect_error_on_post_is_retried_because_nothing_was_sent() -> None:
    client, server, vt = make(queue(httpx.ConnectError("refused"), resp(200, {"ok": 1})))
    result = await one(vt, client.post(VM + "/runCommand", API, {"commandId": "x"}))
    assert result.body == {"ok": 1}


async def test_connection_failures_until_max_attempts() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route to host")

    client, server, vt = make(handler, max_attempts=3)
    err = await raises(vt, client.get(VM, API))
    assert isinstance(err, ArmError) and err.code == "ConnectionFailed"
    assert len(server.requests) == 3


# ---------------------------------------------------------------- error mapping


async def test_412_is_precondition_failed() -> None:
    client, _, vt = make(queue(error(412, "PreconditionFailed", "etag mismatch")))
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}, if_match='"old"'))
    assert isinstance(err, PreconditionFailed) and "re-run" in err.advice


async def test_404_is_not_found() -> None:
    client, _, vt = make(queue(error(404, "ResourceNotFound", "The Resource 'vm1' was not found.")))
    err = await raises(vt, client.get(VM, API))
    assert isinstance(err, NotFound)
    assert str(err) == (
        "ARM 404 ResourceNotFound: The Resource 'vm1' was not found.\n  what to do: " + err.advice
    )
    assert "resource group" in err.advice


async def test_region_bad_request_is_region_not_supported() -> None:
    text = (
        "Creation of VMs using a Fips 140-3 compliant encryption for extension settings "
        "isn't supported in this region."
    )
    client, _, vt = make(queue(error(400, "BadRequest", text)))
    err = await raises(vt, client.put(VM, API, {"location": "eastus2", "properties": {}}))
    assert isinstance(err, RegionNotSupported)
    assert err.region == "eastus2" and err.message == text and err.code == "BadRequest"
    assert str(err).startswith("region not supported: eastus2\n")
    assert text in str(err) and "move the VM" in err.advice


def test_with_region_helper() -> None:
    err = RegionNotSupported(400, "BadRequest", "isn't supported in this region.")
    assert err.with_region("uksouth") is err
    assert str(err).splitlines()[0] == "region not supported: uksouth"


async def test_other_bad_request_is_plain_arm_error() -> None:
    client, _, vt = make(queue(error(400, "InvalidParameter", "bad value")))
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert type(err) is ArmError and err.status == 400 and "support" in err.advice


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_exit_code_3(status: int) -> None:
    client, _, vt = make(queue(error(status, "AuthorizationFailed", "no access")))
    err = await raises(vt, client.get(VM, API))
    assert isinstance(err, ArmAuthError) and isinstance(err, AuthError)
    assert err.exit_code == ExitCode.AUTH and int(err.exit_code) == 3
    assert "Virtual Machine Contributor" in err.advice and "az login" in err.advice


async def test_409_conflict_advice() -> None:
    client, _, vt = make(queue(error(409, "OperationNotAllowed", "another op")))
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert "another operation is running" in err.advice  # type: ignore[attr-defined]


async def test_error_body_shapes() -> None:
    client, _, vt = make(queue(resp(400, {"code": "TopLevel", "message": "flat shape"})))
    err = await raises(vt, client.get(VM, API))
    assert isinstance(err, ArmError) and (err.code, err.message) == ("TopLevel", "flat shape")
    client, _, vt = make(queue(httpx.Response(502, text="<html>Bad Gateway</html>")))
    err = await raises(vt, client.post(VM + "/start", API))
    assert isinstance(err, ArmError) and err.code == "BadGateway"
    assert err.message == "<html>Bad Gateway</html>"
    client, _, vt = make(queue(httpx.Response(500)))
    err = await raises(vt, client.post(VM + "/start", API))
    assert isinstance(err, ArmError) and err.message == "HTTP 500 with no body"


async def test_token_never_in_errors_even_when_echoed() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        return error(
            400,
            "BadRequest",
            f"header was {auth}; isn't supported in this region",
            x_ms_request_id=auth,
        )

    client, _, vt = make(echo)
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert isinstance(err, RegionNotSupported)
    assert "***" in str(err)
    assert_no_token(err)
    for status in (401, 404, 412, 500):

        def echo_status(request: httpx.Request, status: int = status) -> httpx.Response:
            return error(status, "X", request.headers["authorization"])

        client, _, vt = make(echo_status, max_attempts=1)
        assert_no_token(await raises(vt, client.get(VM, API)))


# ---------------------------------------------------------------- throttle gates


async def test_throttle_gate_holds_all_writers_of_the_subscription() -> None:
    other = VM.replace(SUB, "00000000-0000-0000-0000-000000000002")
    throttled: list[bool] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and not throttled:
            throttled.append(True)
            return error(429, "TooManyRequests", "excessive volume", Retry_After="5")
        return resp(200, {"ok": True})

    client, server, vt = make(handler)

    async def writer(i: int, path: str = VM) -> float:
        await vt.sleep(i * 0.01)  # writers arrive one after another, 10 ms apart
        await client.put(f"{path}{i}", API, {"location": "eastus"})
        return vt.now

    async def reader() -> float:
        await vt.sleep(0.05)
        await client.get(VM, API)
        return vt.now

    finished = await vt.run(*(writer(i) for i in range(20)), reader(), writer(3, other))
    puts = [(t, r) for t, r in zip(server.times, server.requests, strict=True) if r.method == "PUT"]
    sub_puts = [t for t, r in puts if SUB in r.url.path]
    assert sub_puts[0] == 0.0  # the one that got the 429
    assert all(5.0 <= t <= 5.1 for t in sub_puts[1:])  # nobody else sent before Retry-After
    assert len(sub_puts) == 21  # 20 writers + one retry: no hammering while the gate is shut
    assert max(finished[:20]) <= 5.1  # and no sleeping beyond Retry-After + jitter
    assert finished[20] == pytest.approx(0.05)  # reads have their own gate
    assert finished[21] == pytest.approx(0.03)  # another subscription is not held
    assert client.stats["throttled"] == 1


async def test_poll_reads_use_the_read_gate() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        if request.method == "POST":
            return resp(202, Azure_AsyncOperation=OP, Retry_After="1")
        if len(calls) == 2:
            return error(429, "TooManyRequests", "reads", Retry_After="10")
        return resp(200, {"status": "Succeeded"})

    client, server, vt = make(handler)

    async def late_reader() -> float:
        await vt.sleep(2.0)
        await client.get(VM, API)
        return vt.now

    _, read_at = await vt.run(client.post(VM + "/start", API), late_reader())
    assert read_at >= 11.0  # the polling GET's 429 at t=1 held other reads until t=11
