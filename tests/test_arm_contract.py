"""ARM's throttling and async contract (reference arm-conformance.md D1-D3) and hostile answers.

Virtual time throughout (tests.test_arm_client.VirtualTime), except the TLS test, which
proves on the wall clock that a certificate failure is not retried.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from fipswizard.azure.arm import ArmClient, ArmError
from fipswizard.azure.arm_errors import InvalidOperationStatus, Throttled, UnreadableResponse
from fipswizard.azure.arm_retry import POLL_CAP, POLL_DEFAULT, POLL_FLOOR, poll_delay, retry_after
from fipswizard.azure.clouds import resolve_cloud, same_origin
from fipswizard.azure.credentials import StaticToken
from fipswizard.secrets import Secret
from tests.test_arm_client import (
    API,
    ARM,
    OP,
    TOKEN,
    VM,
    assert_no_token,
    error,
    make,
    one,
    queue,
    raises,
    resp,
)

# ---------------------------------------------------------------- D1: 429 / 503 in full


async def test_429_retry_after_120_is_waited_in_full() -> None:
    client, server, vt = make(
        queue(error(429, "TooManyRequests", "slow down", Retry_After="120"), resp(200, {"a": 1}))
    )
    result = await one(vt, client.get(VM, API))
    assert result.body == {"a": 1}
    assert server.times[1] >= 120.0  # the old 60 s cap sent it again at t=60


async def test_429_beyond_the_budget_stops_at_once_and_says_how_long() -> None:
    client, server, vt = make(
        queue(error(429, "TooManyRequests", "excessive traffic", Retry_After="3600")),
        max_throttle_wait=900,
    )
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert isinstance(err, Throttled) and err.status == 429 and err.code == "TooManyRequests"
    assert "3600s" in err.message and "excessive traffic" in err.message
    assert "re-run" in err.advice and "resumes" in err.advice
    assert len(server.requests) == 1 and vt.sleeps == [] and vt.now == 0.0  # no sleeping it out
    assert_no_token(err)


async def test_a_closed_gate_beyond_the_budget_stops_the_next_request_unsent() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return error(429, "TooManyRequests", "busy", Retry_After="1200")

    client, server, vt = make(handler, max_throttle_wait=900)
    first = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    second = await raises(vt, client.put(VM + "2", API, {"location": "eastus"}))
    assert isinstance(first, Throttled) and isinstance(second, Throttled)
    assert "1200s" in second.message
    assert len(server.requests) == 1  # the second writer never hit the throttled subscription


async def test_503_retry_after_is_honoured_in_full() -> None:
    client, server, vt = make(
        queue(error(503, "ServiceUnavailable", "busy", Retry_After="300"), resp(200, {"ok": 1}))
    )
    result = await one(vt, client.get(VM, API))
    assert result.body == {"ok": 1} and vt.sleeps == [300.0]  # was capped to 60


async def test_503_beyond_the_budget_stops_at_once() -> None:
    client, server, vt = make(
        queue(error(503, "ServiceUnavailable", "busy", Retry_After="7200")),
    )
    err = await raises(vt, client.get(VM, API))
    assert isinstance(err, Throttled) and err.status == 503 and "7200s" in err.message
    assert len(server.requests) == 1 and vt.sleeps == []


# ---------------------------------------------------------------- D3: header precedence


def test_retry_after_precedence_and_forms() -> None:
    h = httpx.Headers
    assert retry_after(h({"Retry-After": "9", "retry-after-ms": "250"})) == 9.0
    assert retry_after(h({"retry-after-ms": "250", "x-ms-retry-after-ms": "900"})) == 0.25
    assert retry_after(h({"x-ms-retry-after-ms": "900"})) == 0.9
    assert retry_after(h({"Retry-After": "600"})) == 600.0  # no cap
    assert retry_after(h({"Retry-After": "-5"})) == 0.0
    assert retry_after(h({"Retry-After": "nan"})) is None
    assert retry_after(h({"Retry-After": "soon", "retry-after-ms": "40"})) == 0.04
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    assert retry_after(h({"Retry-After": date}), now=1445412480.0 - 30) == pytest.approx(30.0)
    assert retry_after(h({"Retry-After": date}), now=1445412480.0 + 30) == 0.0
    assert retry_after(h()) is None


def test_poll_delay_default_floor_cap() -> None:
    h = httpx.Headers
    assert poll_delay(h()) == POLL_DEFAULT == 15.0
    assert poll_delay(h({"Retry-After": "0"})) == POLL_DEFAULT  # azure-core: 0 means no hint
    assert poll_delay(h({"retry-after-ms": "1"})) == POLL_FLOOR
    assert poll_delay(h({"Retry-After": "600"})) == POLL_CAP
    assert poll_delay(h({"Retry-After": "7"})) == 7.0
    assert poll_delay(h(), default=4.0) == 4.0


# ---------------------------------------------------------------- D2: poll spacing


def _slow_operation(polls_until_done: int, **hint: str):  # type: ignore[no-untyped-def]
    count = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal count
        if request.method == "PUT":
            return resp(
                201, {"properties": {"provisioningState": "Updating"}}, Azure_AsyncOperation=OP
            )
        if request.url.path == VM:
            return resp(200, {"properties": {"provisioningState": "Succeeded"}})
        count += 1
        if count >= polls_until_done:
            return resp(200, {"status": "Succeeded"})
        return resp(200, {"status": "InProgress"}, **hint)

    return handler


async def test_no_retry_after_polls_at_most_once_per_default_interval() -> None:
    client, server, vt = make(_slow_operation(6))
    await one(vt, client.put(VM, API, {"location": "eastus"}))
    polls = [
        t for t, r in zip(server.times, server.requests, strict=True) if "operations" in r.url.path
    ]
    assert len(polls) == 6
    gaps = [b - a for a, b in zip([0.0, *polls], polls, strict=False)]
    assert all(gap >= POLL_DEFAULT for gap in gaps), gaps  # the old default polled every 1 s


async def test_poll_interval_is_injectable() -> None:
    client, server, vt = make(_slow_operation(3), poll_interval=40.0)
    await one(vt, client.put(VM, API, {"location": "eastus"}))
    assert vt.sleeps == [40.0, 40.0, 40.0]


async def test_tiny_retry_after_is_floored_and_huge_one_capped() -> None:
    client, _, vt = make(_slow_operation(3, retry_after_ms="1"))
    await one(vt, client.put(VM, API, {"location": "eastus"}))
    assert vt.sleeps == [POLL_DEFAULT, POLL_FLOOR, POLL_FLOOR]
    client, _, vt = make(_slow_operation(2, Retry_After="3600"), lro_timeout=10_000)
    await one(vt, client.put(VM, API, {"location": "eastus"}))
    assert vt.sleeps == [POLL_DEFAULT, POLL_CAP]


# ---------------------------------------------------------------- garbage status, unreadable


async def test_garbage_operation_status_rereads_the_resource_for_put() -> None:
    client, server, vt = make(
        queue(
            resp(201, {"properties": {"provisioningState": "Updating"}}, Azure_AsyncOperation=OP),
            resp(200, {"unexpected": "shape"}),
            resp(200, {"name": "vm1", "properties": {"provisioningState": "Updating"}}),
            resp(200, {"name": "vm1", "properties": {"provisioningState": "Succeeded"}}),
        )
    )
    lines: list[str] = []
    result = await one(vt, client.put(VM, API, {"location": "eastus"}, progress=lines.append))
    assert result.body["properties"]["provisioningState"] == "Succeeded"
    assert server.calls[2:] == [f"GET {VM}", f"GET {VM}"]
    assert any("reading the resource" in line for line in lines)


async def test_garbage_status_then_failed_resource_is_an_operation_error() -> None:
    client, _, vt = make(
        queue(
            resp(201, None, Azure_AsyncOperation=OP),
            resp(200, {"startTime": "2026-01-01T00:00:00Z"}),
            resp(200, {"properties": {"provisioningState": "Failed"}}),
        )
    )
    err = await raises(vt, client.put(VM, API, {"location": "eastus"}))
    assert isinstance(err, ArmError) and err.code == "ProvisioningFailed"


async def test_html_operation_status_rereads_the_resource() -> None:
    client, server, vt = make(
        queue(
            resp(201, None, Azure_AsyncOperation=OP),
            httpx.Response(200, text="<html>portal</html>", headers={"content-type": "text/html"}),
            resp(200, {"properties": {"provisioningState": "Succeeded"}}),
        )
    )
    result = await one(vt, client.put(VM, API, {"location": "eastus"}))
    assert result.body["properties"]["provisioningState"] == "Succeeded"


async def test_garbage_status_for_post_reads_location_or_fails_clearly() -> None:
    loc = OP + "?monitor=true"
    client, server, vt = make(
        queue(
            resp(202, Azure_AsyncOperation=OP, Location=loc),
            resp(200, {"no": "status"}),
            resp(200, {"value": [{"message": "done"}]}),
        )
    )
    result = await one(vt, client.post(VM + "/runCommand", API, {"commandId": "x"}))
    assert result.body == {"value": [{"message": "done"}]}
    client, _, vt = make(queue(resp(202, Azure_AsyncOperation=OP), resp(200, {"no": "status"})))
    err = await raises(vt, client.delete(VM + "/extensions/x", API))
    assert isinstance(err, InvalidOperationStatus)
    assert "no 'status' field" in err.message and "nothing was written" in err.advice


async def test_unreadable_2xx_body_says_so_and_nothing_was_written() -> None:
    page = httpx.Response(
        200, text="<html>Sign in to the Wi-Fi</html>", headers={"content-type": "text/html"}
    )
    client, _, vt = make(queue(page))
    err = await raises(vt, client.get(VM, API))
    assert isinstance(err, UnreadableResponse)
    assert "could not be parsed" in err.message and "nothing was written" in err.message
    assert "proxy" in err.advice and "Wi-Fi" in err.message


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirect_is_never_followed_and_advice_names_proxy_and_endpoint(
    status: int,
) -> None:
    client, server, vt = make(
        queue(httpx.Response(status, headers={"Location": "https://login.example/portal"}))
    )
    err = await raises(vt, client.get(VM, API))
    assert isinstance(err, ArmError) and err.code == "UnexpectedRedirect"
    assert "never follows redirects" in err.message and "login.example" in err.message
    assert "proxy" in err.advice and "--arm-endpoint" in err.advice
    assert len(server.requests) == 1


# ---------------------------------------------------------------- TLS


async def test_certificate_failure_is_not_retried_and_names_ca_bundle() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        try:
            raise ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("certificate verify failed") from exc

    client, server, vt = make(handler)
    err = await raises(vt, client.post(VM + "/start", API, retry_safe=True))
    assert isinstance(err, ArmError) and err.code == "TlsVerificationFailed"
    assert "--ca-bundle" in err.advice and "custom_cloud.ca_bundle" in err.advice
    assert len(server.requests) == 1 and vt.sleeps == []


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return key, cert


async def test_real_tls_failure_fails_fast_on_the_wall_clock(
    self_signed: tuple[Path, Path],
) -> None:
    key, cert = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    cloud = resolve_cloud("AzureCloud", arm_endpoint=f"https://127.0.0.1:{port}")
    try:
        async with ArmClient(cloud, StaticToken(Secret(TOKEN, "t")), correlation_id="c") as arm:
            started = time.monotonic()
            with pytest.raises(ArmError) as info:
                await arm.get(VM, API)
            elapsed = time.monotonic() - started
    finally:
        server.close()
        await server.wait_closed()
    assert info.value.code == "TlsVerificationFailed" and elapsed < 5.0
    assert arm.stats["GET"] == 1 and arm.stats["retries"] == 0
    assert "--ca-bundle" in str(info.value)


# ---------------------------------------------------------------- what held still holds


def test_same_origin_treats_the_default_port_as_no_port() -> None:
    assert same_origin("https://management.azure.com:443/x", ARM)
    assert same_origin(ARM + "/x", "https://management.azure.com:443")
    assert same_origin("HTTPS://Management.Azure.com/x", ARM)
    assert not same_origin("https://management.azure.com:8443/x", ARM)
    assert not same_origin("http://management.azure.com/x", ARM)
    assert not same_origin("https://management.azure.com.evil.example/x", ARM)
    assert same_origin("http://localhost:9000/op", "http://127.0.0.1:9000")


async def test_poll_url_with_explicit_443_is_followed_other_hosts_refused() -> None:
    client, server, vt = make(
        queue(
            resp(202, Azure_AsyncOperation=OP.replace(ARM, ARM + ":443")),
            resp(200, {"status": "Succeeded"}),
        )
    )
    await one(vt, client.post(VM + "/start", API))
    assert len(server.requests) == 2
    client, server, vt = make(queue(resp(202, Location="https://management.azure.com:444/op")))
    err = await raises(vt, client.post(VM + "/start", API))
    assert isinstance(err, ArmError) and err.code == "UntrustedPollUrl"
    assert len(server.requests) == 1


async def test_next_link_with_explicit_443_is_followed() -> None:
    from fipswizard.azure.inventory import list_all

    client, server, vt = make(
        queue(
            resp(
                200, {"value": [{"a": 1}], "nextLink": f"{ARM}:443/subscriptions?api-version=1&p=2"}
            ),
            resp(200, {"value": [{"a": 2}]}),
        )
    )
    items = await one(vt, list_all(client, "/subscriptions", "2022-12-01"))
    assert items == [{"a": 1}, {"a": 2}]  # the old inventory check refused :443


async def test_412_rereads_and_puts_again_with_the_fresh_etag() -> None:
    from fipswizard.azure.arm_step import vm_params
    from fipswizard.azure.steps_vm import VmFlagStep
    from fipswizard.context import Context
    from fipswizard.engine.steps import Risk

    etags = ['"1"', '"2"']
    vm_body = {"location": "eastus", "properties": {"provisioningState": "Succeeded"}}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return resp(200, {**vm_body, "etag": etags[0]})
        if request.headers["if-match"] != etags[-1]:
            etags.pop(0)  # someone else wrote the VM meanwhile
            return error(412, "PreconditionFailed", "etag mismatch")
        done = {
            **vm_body,
            "properties": {
                **vm_body["properties"],
                "additionalCapabilities": {"enableFips1403Encryption": True},
            },
        }
        return resp(200, done)

    client, server, vt = make(handler)

    class NoQuestions:
        async def approve(self, items: object) -> set[tuple[str, str]]:
            raise AssertionError

    step = VmFlagStep("t", "flag", Risk.REVERSIBLE, vm_params(ARM, API, VM))
    ctx = Context(NoQuestions(), arm=client)

    async def run() -> None:
        await step.apply(ctx, await step.check(ctx))

    await one(vt, run())
    puts = [r.headers["if-match"] for r in server.requests if r.method == "PUT"]
    assert puts == ['"1"', '"2"']
    assert [r.method for r in server.requests] == ["GET", "PUT", "GET", "PUT"]
