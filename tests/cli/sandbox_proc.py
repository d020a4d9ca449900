"""Run the sandbox and fipswizard as separate processes, as a pipeline would."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

DEMO_SUB = "11111111-2222-3333-4444-555555555555"
GOV_SUB = "66666666-7777-8888-9999-000000000000"
TOKEN = "pipeline-token-7f3a9c1e5b2d4e6f8a0b"


class SandboxProc:
    def __init__(self, tmp: Path, *args: str) -> None:
        self.url_file = tmp / "sandbox.url"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fipswizard.sandbox",
                "serve",
                "--url-file",
                str(self.url_file),
                "--op-seconds",
                "0.3",
                "--registration-seconds",
                "1",
                *args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while not (self.url_file.exists() and self.url_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox did not start: {self.proc.stderr.read()!r}")
            time.sleep(0.05)
        self.url = self.url_file.read_text().strip()

    def get(self, path: str) -> Any:
        return httpx.get(self.url + path, timeout=10).json()

    def post(self, path: str, body: Any) -> Any:
        return httpx.post(self.url + path, json=body, timeout=10).json()

    def requests(self) -> list[dict[str, Any]]:
        data = self.get("/_sandbox/requests")
        return data["requests"] if isinstance(data, dict) else data

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["write"]]

    def reset_log(self) -> None:
        self.post("/_sandbox/reset-log", {})

    def vm(self, name: str) -> dict[str, Any]:
        return dict(self.get("/_sandbox/state")["vms"][name])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def cli_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FIPSWIZARD_")}
    env.update(
        FIPSWIZARD_ACCESS_TOKEN=TOKEN,
        FIPSWIZARD_ARM_ENDPOINT=url,
        FIPSWIZARD_POLL_INTERVAL="0.2",
        FIPSWIZARD_AGENT_WAIT="2",
        XDG_STATE_HOME=extra.pop("state", None) or tempfile.mkdtemp(prefix="fw-state-"),
        **extra,
    )
    return env


def fipswizard(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fipswizard", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_recipe(
    path: Path, vms: list[tuple[str, str, str]], guest: str = "none", extra: str = ""
) -> Path:
    lines = ["version = 1", f'guest = "{guest}"', 'fix = "reallocate"', extra]
    for sub, rg, vm in vms:
        lines += [
            "[[target]]",
            f'subscription = "{sub}"',
            f'resource_group = "{rg}"',
            f'vm = "{vm}"',
        ]
    path.write_text("\n".join(lines) + "\n")
    return path
