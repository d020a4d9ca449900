"""Script runners: local bash, the bubblewrap fake root, and ARM Run Command."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from fipswizard.azure.arm import ArmClient, ArmError, ArmResponse
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.context import Settings, Target
from fipswizard.errors import StepError
from fipswizard.guest.runners import (
    MAX_SCRIPT_BYTES,
    NO_RC,
    TIMED_OUT,
    BwrapRunner,
    LocalRunner,
    RunCommandRunner,
    bwrap_problem,
    parse_run_command,
    secret_env,
)
from fipswizard.secrets import Secret

from .osrelease_samples import make_root

SECRET_VALUE = "pro-token-C0ffee-do-not-leak"
TARGET = Target("00000000-0000-0000-0000-000000000001", "rg1", "vm1")
bwrap = pytest.mark.skipif(bwrap_problem() is not None, reason=str(bwrap_problem()))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------- LocalRunner


async def test_local_runner_passes_secrets_as_environment_not_argv() -> None:
    env = secret_env(["pro_token"], {"pro_token": Secret(SECRET_VALUE, "pro_token")})
    assert list(env) == ["FW_SECRET_PRO_TOKEN"]
    script = ('printf %s "$FW_SECRET_PRO_TOKEN" | sha256sum | cut -c1-64\n'
              "head -c 4 /proc/$$/cmdline; echo\n"
              "if tr '\\0' '\\n' </proc/$$/cmdline | grep -qF \"$FW_SECRET_PRO_TOKEN\"; then\n"
              "  echo argv-leak; else echo argv-clean; fi\n"
              'echo "leak=$FW_SECRET_PRO_TOKEN"\n')
    result = await LocalRunner().run(script, env=env)
    lines = result.stdout.splitlines()
    assert result.rc == 0 and lines[0] == digest(SECRET_VALUE)
    assert lines[1:] == ["bash", "argv-clean", "leak=***"]  # echoed secrets are masked


async def test_local_runner_exit_code_stderr_and_timeout() -> None:
    result = await LocalRunner().run("echo out; echo err >&2; exit 10")
    assert (result.rc, result.stdout, result.stderr) == (10, "out\n", "err\n")
    start = time.monotonic()
    slow = await LocalRunner().run("sleep 30 & sleep 30; echo never", timeout=0.3)
    assert slow.rc == TIMED_OUT and "timed out" in slow.stderr
    assert time.monotonic() - start < 5


def test_missing_required_secret_is_a_step_error() -> None:
    with pytest.raises(StepError) as err:
        secret_env(["tuxcare_key"], {})
    assert "tuxcare_key" in str(err.value)
    assert secret_env(["tuxcare_key"], {}, required=False) == {}


# ------------------------------------------------------------------------------- BwrapRunner


def _fake_root(tmp_path: Path) -> Path:
    return make_root(tmp_path, "flatcar", {
        "usr/lib/python3.9/site-packages/azurelinuxagent/daemon/main.py":
            "        self._initialize_telemetry()\n",
        "usr/share/waagent/waagent.conf": "AutoUpdate.Enabled=n\n",
        "oem/grub.cfg": 'set linux_append="flatcar.autologin"\n',
        "boot/loader.conf": "x\n",
        "home/azureuser/.ssh/authorized_keys": "ssh-ed25519 AAAA x\n",
        "root/.bashrc": "# root\n",
        "var/log/.keep": "",
    }, {"uname": 'echo "stand-in uname $*"'})


@bwrap
async def test_bwrap_fake_root_files_appear_at_real_paths(tmp_path: Path) -> None:
    root = _fake_root(tmp_path)
    os.symlink("../usr/share/waagent/waagent.conf", root / "etc/waagent.conf")
    script = """set -e
grep -q flatcar /etc/os-release; echo os=ok
cat /etc/waagent.conf
cat /oem/grub.cfg /boot/loader.conf /home/azureuser/.ssh/authorized_keys /root/.bashrc
sed -i 's/        self/        # self/' \
  /usr/lib/python3.9/site-packages/azurelinuxagent/daemon/main.py
echo 'set linux_append="$linux_append fips=1"' >>/oem/grub.cfg
touch /etc/system-fips
[ -e /etc/passwd ] && echo host-etc-visible || echo host-etc-hidden
command -v bash >/dev/null && echo host-bash
uname -r
ls /usr/lib/x86_64-linux-gnu >/dev/null 2>&1 || ls /usr/lib64 >/dev/null; echo host-libs
awk 'BEGIN{print "awk-ok"}'
"""
    result = await BwrapRunner(root).run(script, timeout=60)
    assert result.rc == 0, result.stderr
    out = result.stdout
    for want in ("os=ok", "AutoUpdate.Enabled=n", "flatcar.autologin", "ssh-ed25519",
                 "host-etc-hidden", "host-bash", "stand-in uname -r", "host-libs", "awk-ok"):
        assert want in out, (want, out)
    # writes land in the fake root on disk
    main = root / "usr/lib/python3.9/site-packages/azurelinuxagent/daemon/main.py"
    assert main.read_text() == "        # self._initialize_telemetry()\n"
    assert (root / "oem/grub.cfg").read_text().endswith('fips=1"\n')
    assert (root / "etc/system-fips").exists()


@bwrap
@pytest.mark.parametrize("value", ["0", "1"])
async def test_bwrap_fakes_fips_enabled_and_cmdline(tmp_path: Path, value: str) -> None:
    root = make_root(tmp_path, "rhel-9.4")
    result = await BwrapRunner(root, fips_enabled=value).run(
        "cat /proc/sys/crypto/fips_enabled; cat /proc/cmdline; cat /proc/sys/kernel/ostype")
    lines = result.stdout.splitlines()
    assert result.rc == 0, result.stderr
    assert lines[0] == value
    assert ("fips=1" in lines[1]) == (value == "1")
    assert lines[2] == "Linux"  # the rest of /proc/sys stays readable
    (root / "proc").mkdir()
    (root / "proc/cmdline").write_text("BOOT_IMAGE=/vmlinuz fips=1 boot=UUID=abc\n")
    faked = await BwrapRunner(root).run("cat /proc/cmdline")
    assert faked.stdout == "BOOT_IMAGE=/vmlinuz fips=1 boot=UUID=abc\n"


@bwrap
async def test_bwrap_isolation_network_and_environment(tmp_path: Path, monkeypatch:
                                                       pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_HOST_ONLY", "host-value")
    root = make_root(tmp_path, "ubuntu-22.04")
    env = {"FW_SECRET_X": Secret(SECRET_VALUE, "x")}
    script = ("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '\n"
              'echo "host=${FW_HOST_ONLY:-unset} home=$HOME"\n'
              'printf %s "$FW_SECRET_X" | sha256sum | cut -c1-64\n')
    result = await BwrapRunner(root).run(script, env=env)
    lines = result.stdout.splitlines()
    assert lines[0] == "lo" and "host=unset home=/root" in lines
    assert digest(SECRET_VALUE) in lines
    assert all(SECRET_VALUE not in a for a in BwrapRunner(root).argv(tmp_path))


@bwrap
async def test_bwrap_standins_dir_outside_the_root(tmp_path: Path) -> None:
    root = make_root(tmp_path, "rhel-9.4")
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "fips-mode-setup").write_text("#!/bin/bash\necho stand-in fms \"$@\"\n")
    (tools / "fips-mode-setup").chmod(0o755)
    result = await BwrapRunner(root, standins=tools).run("fips-mode-setup --check")
    assert result.stdout == "stand-in fms --check\n"


# --------------------------------------------------------------------------- RunCommandRunner


def run_like_azure(body: dict[str, Any], shell: str = "bash") -> str:
    """What a Linux VM's Run Command does: run the lines with parameters as variables, then
    report the last 4,096 bytes of stdout and stderr in one message."""
    env = {"PATH": os.environ["PATH"]}
    env.update({p["name"]: p["value"] for p in body.get("parameters", [])})
    done = subprocess.run([shell, "-c", "\n".join(body["script"])], capture_output=True,
                          text=True, env=env, check=False, timeout=60)
    out, err = done.stdout.encode()[-4096:].decode(), done.stderr.encode()[-4096:].decode()
    return f"Enable succeeded: \n[stdout]\n{out}\n[stderr]\n{err}\n"


class FakeArm:
    """The ArmClient.post surface; runs the wrapped script for real unless told otherwise."""

    def __init__(self, shell: str = "bash", error: ArmError | None = None) -> None:
        self.shell, self.error = shell, error
        self.calls: list[dict[str, Any]] = []

    async def post(self, path: str, api_version: str, body: Any = None, *,
                   retry_safe: bool = False, progress: Any = None) -> ArmResponse:
        self.calls.append({"path": path, "api": api_version, "body": body,
                           "retry_safe": retry_safe})
        if progress:
            progress("operation InProgress")
        if self.error:
            raise self.error
        message = run_like_azure(body, self.shell)
        value = [{"code": "ProvisioningState/succeeded", "level": "Info", "message": message}]
        return ArmResponse(200, httpx.Headers(), {"value": value})


SCRIPT = """# fipswizard-script: rhel9/fips-mode/apply
cat >/dev/null   # must read /dev/null, not the rest of this script
printf %s "$FW_SECRET_PRO_TOKEN" | sha256sum | cut -c1-64
echo "to stderr" >&2
fw() { exit "$1"; }
fw 20
echo unreachable
"""


@pytest.mark.parametrize("shell", ["bash", "sh"])
async def test_run_command_wrapper_on_a_real_shell(shell: str) -> None:
    arm, progress = FakeArm(shell), []
    runner = RunCommandRunner(arm, TARGET, Settings(), progress=progress.append)
    env = {"FW_SECRET_PRO_TOKEN": Secret(SECRET_VALUE, "pro_token")}
    result = await runner.run(SCRIPT, env=env, timeout=120)
    assert result.rc == 20
    assert result.stdout == digest(SECRET_VALUE) + "\n"
    assert result.stderr == "to stderr\n"
    call = arm.calls[0]
    assert call["path"] == f"{TARGET.vm_path}/runCommand" and call["api"] == "2025-04-01"
    assert call["retry_safe"] is False
    body = call["body"]
    assert body["commandId"] == "RunShellScript"
    assert body["parameters"] == [{"name": "FW_SECRET_PRO_TOKEN", "value": SECRET_VALUE}]
    assert "# fipswizard-script: rhel9/fips-mode/apply" in body["script"]
    assert "timeout 120 bash" in "\n".join(body["script"])
    assert SECRET_VALUE not in json.dumps(body["script"])
    assert progress[0] == "Run Command on vm1: rhel9/fips-mode/apply"
    assert "operation InProgress" in progress and all(SECRET_VALUE not in p for p in progress)


async def test_run_command_secret_never_logged_or_previewed(caplog: pytest.LogCaptureFixture
                                                            ) -> None:
    caplog.set_level(logging.DEBUG)
    secret = Secret(SECRET_VALUE, "pro_token")
    runner = RunCommandRunner(FakeArm(), TARGET, Settings())
    result = await runner.run('echo "token=$FW_SECRET_PRO_TOKEN"',
                              env={"FW_SECRET_PRO_TOKEN": secret})
    assert result.stdout == "token=***\n"  # output is redacted even when a script misbehaves
    assert SECRET_VALUE not in caplog.text and SECRET_VALUE not in repr(runner)
    assert SECRET_VALUE not in runner.wrap("echo x", 10)


def test_parse_run_command_result_shapes() -> None:
    linux = {"value": [{"code": "ProvisioningState/succeeded",
                        "message": "Enable succeeded: \n[stdout]\na=1\nb=2\n__FW_RC=10\n\n"
                                   "[stderr]\nwarn\n"}]}
    assert parse_run_command(linux) == parse_run_command(linux)
    got = parse_run_command(linux)
    assert (got.rc, got.stdout, got.stderr) == (10, "a=1\nb=2\n", "warn\n")
    empty = {"value": [{"code": "ProvisioningState/succeeded",
                        "message": "Enable succeeded: \n[stdout]\n__FW_RC=0\n\n[stderr]\n\n"}]}
    assert parse_run_command(empty) == parse_run_command(empty)
    assert (parse_run_command(empty).rc, parse_run_command(empty).stdout) == (0, "")
    windows_style = {"value": [
        {"code": "ComponentStatus/StdOut/succeeded", "message": "x=1\n__FW_RC=0"},
        {"code": "ComponentStatus/StdErr/succeeded", "message": ""}]}
    assert parse_run_command(windows_style).rc == 0
    assert parse_run_command(windows_style).stdout == "x=1\n"


def test_missing_rc_line_means_truncated_output() -> None:
    cut = {"value": [{"code": "ProvisioningState/succeeded",
                      "message": "Enable succeeded: \n[stdout]\n...lots of output\n[stderr]\n"}]}
    got = parse_run_command(cut)
    assert got.rc == NO_RC
    assert "__FW_RC" in got.stderr and "4096" in got.stderr
    assert parse_run_command(None).rc == NO_RC


async def test_run_command_arm_error_becomes_step_error() -> None:
    error = ArmError(409, "Conflict", "Run command extension execution is in progress.")
    runner = RunCommandRunner(FakeArm(error=error), TARGET, Settings())
    with pytest.raises(StepError) as err:
        await runner.run("true")
    assert "vm1" in str(err.value) and "in progress" in str(err.value)
    assert "agent Ready" in err.value.advice


async def test_run_command_through_the_real_arm_client() -> None:
    """ArmClient + httpx.MockTransport: 202 + Location, then the RunCommandResult."""
    seen: list[httpx.Request] = []
    operation = "https://management.azure.com/subscriptions/s/providers/Microsoft.Compute/" \
                "locations/eastus/operations/op1"

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            body = json.loads(request.content)
            message = run_like_azure(body)
            handler.result = {"value": [{"code": "ProvisioningState/succeeded",  # type: ignore
                                         "message": message}]}
            return httpx.Response(202, headers={"Location": operation, "Retry-After": "0"})
        return httpx.Response(200, json=handler.result)  # type: ignore[attr-defined]

    async def no_sleep(_seconds: float) -> None:
        return None

    arm = ArmClient(CLOUDS["AzureCloud"], StaticToken(Secret("tok-abcdef", "token")),
                    correlation_id="corr", transport=httpx.MockTransport(handler), sleep=no_sleep)
    async with arm:
        runner = RunCommandRunner(arm, TARGET, Settings())
        result = await runner.run("echo hello; exit 3",
                                  env={"FW_SECRET_X": Secret(SECRET_VALUE, "x")})
    assert (result.rc, result.stdout) == (3, "hello\n")
    assert seen[0].method == "POST" and seen[0].url.path.endswith("/virtualMachines/vm1/runCommand")
    assert seen[0].url.params["api-version"] == "2025-04-01"
    assert all(SECRET_VALUE not in str(r.url) for r in seen)


async def test_run_command_refuses_oversized_scripts() -> None:
    arm = FakeArm()
    with pytest.raises(StepError, match="budget"):
        await RunCommandRunner(arm, TARGET, Settings()).run("#" * (MAX_SCRIPT_BYTES + 1))
    assert arm.calls == []


async def test_run_command_timeout_is_passed_to_the_guest() -> None:
    arm = FakeArm()
    result = await RunCommandRunner(arm, TARGET, Settings()).run("sleep 5", timeout=1)
    assert result.rc == TIMED_OUT
    assert asyncio.iscoroutinefunction(arm.post)
