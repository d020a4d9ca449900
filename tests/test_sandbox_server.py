"""Sandbox over real sockets: the loopback HTTP/1.1 server and the `serve` subprocess."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fipswizard.sandbox import Faults, Rule, SandboxAzure, SandboxServer, start_in_thread
from fipswizard.sandbox.estate import (
    BENCH_GROUP,
    BENCH_SUBSCRIPTION,
    DEMO_GROUP,
    DEMO_SUBSCRIPTION,
)
from fipswizard.sandbox.testing import vm_path

API = {"api-version": "2024-11-01"}
AUTH = {"Authorization": "Bearer t"}


async def test_async_server_keep_alive_and_dropped_connection() -> None:
    sandbox = SandboxAzure(
        op_seconds=0,
        faults=Faults(rules=[Rule(action="drop-after", method="PATCH", path="rhel94-app")]),
    )
    server = SandboxServer(sandbox)
    base = await server.start()
    try:
        path = vm_path(DEMO_SUBSCRIPTION, DEMO_GROUP, "rhel94-app")
        async with httpx.AsyncClient(base_url=base, headers=AUTH) as c:
            for _ in range(3):  # several requests over one kept-alive connection
                r = await c.get(path, params=API)
                assert r.status_code == 200
            assert r.headers["connection"] == "keep-alive"
            with pytest.raises(httpx.RemoteProtocolError):
                await c.patch(path, params=API, json={"tags": {"dropped": "after"}})
            again = await c.get(path, params=API)  # the client reconnects
            assert again.json()["tags"] == {"dropped": "after"}
            put = await c.put(path, params=API, json={"location": "westus2"})
            assert put.headers["Azure-AsyncOperation"].startswith(base + "/subscriptions/")
            denied = await c.get(path, params=API, headers={"Authorization": ""})
            assert denied.status_code == 401
    finally:
        await server.stop()


def test_start_in_thread_for_sync_callers() -> None:
    url, stop = start_in_thread(SandboxAzure())
    try:
        with httpx.Client(base_url=url, headers=AUTH) as c:
            r = c.get(vm_path(DEMO_SUBSCRIPTION, DEMO_GROUP, "flatcar-edge"), params=API)
            assert (
                r.json()["properties"]["storageProfile"]["imageReference"]["publisher"] == "kinvolk"
            )
            assert c.get("/_sandbox/requests").json()[0]["status"] == 200
    finally:
        stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/_sandbox/state", timeout=2)


def test_serve_subprocess_prints_url_and_stops_on_sigterm(tmp_path: Path) -> None:
    url_file = tmp_path / "url"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fipswizard.sandbox",
            "serve",
            "--estate",
            "bench:3",
            "--op-seconds",
            "0.1",
            "--url-file",
            str(url_file),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "the sandbox printed no URL within 20 s"
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 10
        while not url_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert url_file.read_text().strip() == url
        with httpx.Client(base_url=url, headers=AUTH) as c:
            path = vm_path(BENCH_SUBSCRIPTION, BENCH_GROUP, "vm0002")
            r = c.put(
                path,
                params=API,
                json={
                    "location": "westus2",
                    "properties": {"additionalCapabilities": {"enableFips1403Encryption": True}},
                },
            )
            assert r.status_code == 200
            state = c.get("/_sandbox/state").json()
            assert state["vms"]["vm0002"]["fips_flag"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_serve_rejects_a_bad_estate() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fipswizard.sandbox", "serve", "--estate", "nope"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 2
    assert "unknown estate" in proc.stderr
