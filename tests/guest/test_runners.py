"""Script runners: local bash, the bubblewrap fake root, and ARM Run Command."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import re
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
    parse_managed_run,
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
    script = (
        'printf %s "$FW_SECRET_PRO_TOKEN" | sha256sum | cut -c1-64\n'
        "head -c 4 /proc/$$/cmdline; echo\n"
        "if tr '\\0' '\\n' </proc/$$/cmdline | grep -qF \"$FW_SECRET_PRO_TOKEN\"; then\n"
        "  echo argv-leak; else echo argv-clean; fi\n"
        'echo "leak=$FW_SECRET_PRO_TOKEN"\n'
    )
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
    return make_root(
        tmp_path,
        "flatcar",
        {
            "usr/lib/python3.9/site-packages/azurelinuxagent/daemon/main.py": (
                "        self._initialize_telemetry()\n"
            ),
            "usr/share/waagent/waagent.conf": "AutoUpdate.Enabled=n\n",
            "oem/grub.cfg": 'set linux_append="flatcar.autologin"\n',
            "boot/loader.conf": "x\n",
            "home/azureuser/.ssh/authorized_keys": "ssh-ed25519 AAAA x\n",
            "root/.bashrc": "# root\n",
            "var/log/.keep": "",
        },
        {"uname": 'echo "stand-in uname $*"'},
    )


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
    for want in (
        "os=ok",
        "AutoUpdate.Enabled=n",
        "flatcar.autologin",
        "ssh-ed25519",
        "host-etc-hidden",
        "host-bash",
        "stand-in uname -r",
        "host-libs",
        "awk-ok",
    ):
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
        "cat /proc/sys/crypto/fips_enabled; cat /proc/cmdline; cat /proc/sys/kernel/ostype"
    )
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
async def test_bwrap_isolation_network_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FW_HOST_ONLY", "host-value")
    root = make_root(tmp_path, "ubuntu-22.04")
    env = {"FW_SECRET_X": Secret(SECRET_VALUE, "x")}
    script = (
        "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '\n"
        'echo "host=${FW_HOST_ONLY:-unset} home=$HOME"\n'
        'printf %s "$FW_SECRET_X" | sha256sum | cut -c1-64\n'
    )
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
    (tools / "fips-mode-setup").write_text('#!/bin/bash\necho stand-in fms "$@"\n')
    (tools / "fips-mode-setup").chmod(0o755)
    result = await BwrapRunner(root, standins=tools).run("fips-mode-setup --check")
    assert result.stdout == "stand-in fms --check\n"


# --------------------------------------------------------------------------- RunCommandRunner


def run_like_azure(body: dict[str, Any], shell: str = "bash") -> str:
    """What a Linux VM's Run Command does: run the lines with parameters as variables, then
    report the last 4,096 bytes of stdout and stderr in one message."""
    env = {"PATH": os.environ["PATH"]}
    env.update({p["name"]: p["value"] for p in body.get("parameters", [])})
    done = subprocess.run(
        [shell, "-c", "\n".join(body["script"])],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    out, err = done.stdout.encode()[-4096:].decode(), done.stderr.encode()[-4096:].decode()
    return f"Enable succeeded: \n[stdout]\n{out}\n[stderr]\n{err}\n"


def run_managed_like_azure(script: str, protected: list[dict[str, str]]) -> tuple[int, str, str]:
    """What RunCommandHandlerLinux does (internal/exec/exec.go): each named (protected)
    parameter becomes an environment variable; the script file runs under /bin/bash -c."""
    env = {"PATH": os.environ["PATH"], **{p["name"]: p["value"] for p in protected}}
    done = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )
    return done.returncode, done.stdout, done.stderr


def response(body: Any, status: int = 200) -> ArmResponse:
    return ArmResponse(status, httpx.Headers(), body)


class FakeArm:
    """The ArmClient surface the runner uses; runs scripts for real as Azure's handlers do."""

    def __init__(
        self,
        shell: str = "bash",
        error: ArmError | None = None,
        post_errors: list[ArmError] | None = None,
        put_error: ArmError | None = None,
        leftovers: list[dict[str, Any]] | None = None,
    ) -> None:
        self.shell, self.error, self.put_error = shell, error, put_error
        self.post_errors = list(post_errors or [])
        self.calls: list[dict[str, Any]] = []
        self.resources = {r["name"]: r for r in leftovers or []}

    async def get(self, path: str, api_version: str, **query: str) -> ArmResponse:
        self.calls.append({"method": "GET", "path": path, "query": query})
        if path.endswith("/runCommands"):
            return response({"value": list(self.resources.values())})
        if "/runCommands/" in path:
            return response(self.resources[path.rsplit("/", 1)[1]])
        return response({"name": "vm1", "location": "westeurope"})

    async def put(
        self,
        path: str,
        api_version: str,
        body: Any,
        *,
        if_match: str | None = None,
        progress: Any = None,
    ) -> ArmResponse:
        self.calls.append({"method": "PUT", "path": path, "api": api_version, "body": body})
        if self.put_error:
            raise self.put_error
        props = body["properties"]
        rc, out, err = run_managed_like_azure(
            props["source"]["script"], props["protectedParameters"]
        )
        name = path.rsplit("/", 1)[1]
        view = {
            "executionState": "Succeeded" if rc == 0 else "Failed",
            "exitCode": rc,
            "output": out[-4096:],
            "error": err[-4096:],
        }
        self.resources[name] = {
            "name": name,
            "tags": body["tags"],
            "properties": {
                "source": props["source"],
                "provisioningState": "Succeeded",
                "instanceView": view,
            },
        }
        return response(self.resources[name])

    async def post(
        self,
        path: str,
        api_version: str,
        body: Any = None,
        *,
        retry_safe: bool = False,
        progress: Any = None,
    ) -> ArmResponse:
        self.calls.append(
            {
                "method": "POST",
                "path": path,
                "api": api_version,
                "body": body,
                "retry_safe": retry_safe,
            }
        )
        if progress:
            progress("operation InProgress")
        if self.post_errors:
            raise self.post_errors.pop(0)
        if self.error:
            raise self.error
        message = run_like_azure(body, self.shell)
        value = [{"code": "ProvisioningState/succeeded", "level": "Info", "message": message}]
        return response({"value": value})

    async def delete(self, path: str, api_version: str, *, progress: Any = None) -> ArmResponse:
        self.calls.append({"method": "DELETE", "path": path})
        self.resources.pop(path.rsplit("/", 1)[1], None)
        return response(None, 204)

    def methods(self) -> list[str]:
        return [f"{c['method']} {c['path'].removeprefix(TARGET.vm_path)}" for c in self.calls]


SCRIPT = """# fipswizard-script: rhel9/fips-mode/apply
cat >/dev/null   # must read /dev/null, not the rest of this script
echo "token=${FW_SECRET_PRO_TOKEN:-unset}"
echo "to stderr" >&2
fw() { exit "$1"; }
fw 20
echo unreachable
"""


@pytest.mark.parametrize("shell", ["bash", "sh"])
async def test_run_command_wrapper_on_a_real_shell(shell: str) -> None:
    arm, progress = FakeArm(shell), []
    runner = RunCommandRunner(arm, TARGET, Settings(), progress=progress.append)
    result = await runner.run(SCRIPT, timeout=120)
    assert result.rc == 20
    assert result.stdout == "token=unset\n"
    assert result.stderr == "to stderr\n"
    [call] = arm.calls
    assert call["path"] == f"{TARGET.vm_path}/runCommand" and call["api"] == "2025-04-01"
    assert call["retry_safe"] is False  # not read-only: never resent once Azure may have it
    body = call["body"]
    assert body["commandId"] == "RunShellScript" and "parameters" not in body
    assert "# fipswizard-script: rhel9/fips-mode/apply" in body["script"]
    assert "timeout 120 bash" in "\n".join(body["script"])
    assert progress[0] == "Run Command on vm1: rhel9/fips-mode/apply"
    assert "operation InProgress" in progress


async def test_secrets_go_through_managed_run_command_and_it_is_deleted() -> None:
    """D9: a script with secrets runs as a managed run command with protectedParameters;
    never as action Run Command parameters (which Azure writes into the script on disk)."""
    arm, progress = FakeArm(), []
    runner = RunCommandRunner(arm, TARGET, Settings(), progress=progress.append)
    env = {"FW_SECRET_PRO_TOKEN": Secret(SECRET_VALUE, "pro_token")}
    script = SCRIPT.replace(
        'echo "token=', 'printf %s "$FW_SECRET_PRO_TOKEN" | sha256sum | cut -c1-64\necho "token='
    )
    result = await runner.run(script, env=env, timeout=120)
    assert result.rc == 20 and result.stderr == "to stderr\n"
    assert result.stdout == f"{digest(SECRET_VALUE)}\ntoken=***\n"  # reached, and redacted
    methods = arm.methods()
    name = arm.calls[2]["path"].rsplit("/", 1)[1]
    assert re.fullmatch(r"fipswizard-[0-9a-f]{12}", name)
    assert methods == [
        "GET /runCommands",
        "GET ",
        f"PUT /runCommands/{name}",
        f"GET /runCommands/{name}",
        f"DELETE /runCommands/{name}",
    ]
    assert arm.calls[3]["query"] == {"$expand": "instanceView"}
    assert not any(c["method"] == "POST" for c in arm.calls)
    body = arm.calls[2]["body"]
    assert body == {
        "location": "westeurope",
        "tags": {"fipswizard": "run-command"},
        "properties": {
            "source": {"script": script},
            "protectedParameters": [{"name": "FW_SECRET_PRO_TOKEN", "value": SECRET_VALUE}],
            "asyncExecution": False,
            "timeoutInSeconds": 120,
            "treatFailureAsDeploymentFailure": False,
        },
    }
    assert arm.calls[2]["api"] == "2025-04-01"
    assert arm.resources == {}  # deleted
    assert progress[0].startswith("managed Run Command on vm1: rhel9/fips-mode/apply")
    assert all(SECRET_VALUE not in line for line in progress)
    # a second script on the same VM: no second sweep, the location is known
    await runner.run("echo again", env=env)
    assert arm.methods()[5:7] == [
        f"PUT {arm.calls[5]['path'].removeprefix(TARGET.vm_path)}",
        f"GET {arm.calls[6]['path'].removeprefix(TARGET.vm_path)}",
    ]


async def test_managed_run_command_deleted_when_the_put_fails_or_is_cancelled() -> None:
    error = ArmError(0, "ConnectionLost", "dropped")
    arm = FakeArm(put_error=error)
    env = {"FW_SECRET_X": Secret(SECRET_VALUE, "x")}
    with pytest.raises(StepError, match="Run Command failed on vm1"):
        await RunCommandRunner(arm, TARGET, Settings(), location="eastus").run("true", env=env)
    put, delete = arm.calls[-2:]
    assert (put["method"], delete["method"]) == ("PUT", "DELETE")
    assert put["path"] == delete["path"]

    class SlowArm(FakeArm):
        async def put(
            self,
            path: str,
            api_version: str,
            body: Any,
            *,
            if_match: str | None = None,
            progress: Any = None,
        ) -> ArmResponse:
            self.calls.append({"method": "PUT", "path": path})
            await asyncio.sleep(30)
            raise AssertionError("cancelled before")

        async def delete(self, path: str, api_version: str, *, progress: Any = None) -> ArmResponse:
            await asyncio.sleep(0.05)  # the delete itself takes a while; a cancel must wait
            return await super().delete(path, api_version)

    slow = SlowArm()
    task = asyncio.create_task(
        RunCommandRunner(slow, TARGET, Settings(), location="eastus").run("true", env=env)
    )
    while not any(c["method"] == "PUT" for c in slow.calls):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert slow.calls[-1]["method"] == "DELETE"


async def test_leftovers_of_a_killed_run_are_deleted_ours_only() -> None:
    leftovers = [
        {"name": "fipswizard-0123456789ab", "tags": {"fipswizard": "run-command"}},
        {"name": "fipswizard-lookalike", "tags": {}},  # same prefix, not our tag: not ours
        {"name": "nightly-backup", "tags": {"owner": "ops"}},
    ]
    arm, progress = FakeArm(leftovers=leftovers), []
    env = {"FW_SECRET_X": Secret(SECRET_VALUE, "x")}
    runner = RunCommandRunner(arm, TARGET, Settings(), progress=progress.append)
    await runner.run("true", env=env)
    deleted = [c["path"].rsplit("/", 1)[1] for c in arm.calls if c["method"] == "DELETE"]
    assert deleted[0] == "fipswizard-0123456789ab" and len(deleted) == 2
    assert set(arm.resources) == {"fipswizard-lookalike", "nightly-backup"}
    assert any("left on vm1 by an earlier run" in line for line in progress)
    # another runner on the same VM and client (same run): no second listing
    await RunCommandRunner(arm, TARGET, Settings()).run("true", env=env)
    assert [c["path"] for c in arm.calls].count(f"{TARGET.vm_path}/runCommands") == 1


async def test_run_command_secret_never_logged_or_previewed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = Secret(SECRET_VALUE, "pro_token")
    runner = RunCommandRunner(FakeArm(), TARGET, Settings())
    result = await runner.run(
        'echo "token=$FW_SECRET_PRO_TOKEN"', env={"FW_SECRET_PRO_TOKEN": secret}
    )
    assert result.stdout == "token=***\n"  # output is redacted even when a script misbehaves
    assert SECRET_VALUE not in caplog.text and SECRET_VALUE not in repr(runner)
    assert SECRET_VALUE not in runner.wrap("echo x", 10)
    assert SECRET_VALUE not in json.dumps(runner.body("echo x", 10))


def test_parse_managed_run_results() -> None:
    def res(**view: Any) -> dict[str, Any]:
        return {"properties": {"instanceView": view}}

    got = parse_managed_run(
        res(executionState="Failed", exitCode=20, output="a=1\n", error="warn\n")
    )
    assert (got.rc, got.stdout, got.stderr) == (20, "a=1\n", "warn\n")
    assert parse_managed_run(res(executionState="TimedOut", output="x")).rc == TIMED_OUT
    lost = parse_managed_run(res(executionState="Unknown", executionMessage="agent gone"))
    assert lost.rc == NO_RC and "agent gone" in lost.stderr
    assert parse_managed_run(None).rc == NO_RC


def test_parse_run_command_result_shapes() -> None:
    linux = {
        "value": [
            {
                "code": "ProvisioningState/succeeded",
                "message": "Enable succeeded: \n[stdout]\na=1\nb=2\n__FW_RC=10\n\n[stderr]\nwarn\n",
            }
        ]
    }
    assert parse_run_command(linux) == parse_run_command(linux)
    got = parse_run_command(linux)
    assert (got.rc, got.stdout, got.stderr) == (10, "a=1\nb=2\n", "warn\n")
    empty = {
        "value": [
            {
                "code": "ProvisioningState/succeeded",
                "message": "Enable succeeded: \n[stdout]\n__FW_RC=0\n\n[stderr]\n\n",
            }
        ]
    }
    assert parse_run_command(empty) == parse_run_command(empty)
    assert (parse_run_command(empty).rc, parse_run_command(empty).stdout) == (0, "")
    windows_style = {
        "value": [
            {"code": "ComponentStatus/StdOut/succeeded", "message": "x=1\n__FW_RC=0"},
            {"code": "ComponentStatus/StdErr/succeeded", "message": ""},
        ]
    }
    assert parse_run_command(windows_style).rc == 0
    assert parse_run_command(windows_style).stdout == "x=1\n"
    # D5: a 202 with only Azure-AsyncOperation ends on the operation status body, whose
    # properties.output is the status list (2017-03-30 example) or a RunCommandResult.
    items = linux["value"]
    for output in (items, {"value": items}):
        status = {"status": "Succeeded", "name": "op1", "properties": {"output": output}}
        assert parse_run_command(status) == got


def test_missing_secret_names_the_real_sources() -> None:
    with pytest.raises(StepError) as err:
        secret_env(["pro_token"], {})
    advice = err.value.advice
    assert "--secret" not in advice
    assert "read -rs FIPSWIZARD_PRO_TOKEN && export FIPSWIZARD_PRO_TOKEN" in advice
    assert 'pro_token = "env:VAR"' in advice and 'pro_token = "file:PATH"' in advice
    assert "[secrets]" in advice


def test_missing_rc_line_means_truncated_output() -> None:
    cut = {
        "value": [
            {
                "code": "ProvisioningState/succeeded",
                "message": "Enable succeeded: \n[stdout]\n...lots of output\n[stderr]\n",
            }
        ]
    }
    got = parse_run_command(cut)
    assert got.rc == NO_RC
    assert "__FW_RC" in got.stderr and "4096" in got.stderr
    assert parse_run_command(None).rc == NO_RC


BUSY = ArmError(
    409,
    "Conflict",
    "Run command extension execution is in progress. Please wait "
    "for completion before invoking a run command.",
)


class FakeTime:
    def __init__(self) -> None:
        self.now, self.slept = 0.0, []  # type: float, list[float]

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_run_command_in_progress_is_waited_out_with_progress() -> None:
    """A killed run's Run Command still executes: Azure refuses ours with 409. It was not
    accepted, so even an apply script may be sent again once the other one has ended."""
    arm, progress, fake = FakeArm(post_errors=[BUSY, BUSY]), [], FakeTime()
    runner = RunCommandRunner(
        arm, TARGET, Settings(agent_poll=15), sleep=fake.sleep, clock=fake.clock
    )
    result = await runner.run("echo done", timeout=100, progress=progress.append)
    assert (result.rc, result.stdout) == (0, "done\n")
    assert len(arm.calls) == 3 and fake.slept == [15, 15]
    waits = [line for line in progress if "another Run Command is still running" in line]
    assert len(waits) == 2 and "100s left" in waits[0] and "85s left" in waits[1]


async def test_run_command_in_progress_too_long_or_other_409_fails() -> None:
    fake = FakeTime()
    arm = FakeArm(error=BUSY)
    runner = RunCommandRunner(
        arm, TARGET, Settings(agent_poll=15), sleep=fake.sleep, clock=fake.clock
    )
    with pytest.raises(StepError) as err:
        await runner.run("true", timeout=40)
    assert "vm1" in str(err.value) and "in progress" in str(err.value)
    assert "agent Ready" in err.value.advice
    assert fake.now == 40 and len(arm.calls) == 4  # bounded by the script's timeout
    stopped = ArmError(409, "OperationNotAllowed", "The operation requires the VM to be running")
    arm = FakeArm(error=stopped)
    with pytest.raises(StepError, match="requires the VM to be running"):
        await RunCommandRunner(arm, TARGET, Settings(), sleep=fake.sleep).run("true")
    assert len(arm.calls) == 1  # not waited: a real failure


async def test_run_command_through_the_real_arm_client() -> None:
    """ArmClient + httpx.MockTransport: 202 + Location, then the RunCommandResult."""
    seen: list[httpx.Request] = []
    operation = (
        "https://management.azure.com/subscriptions/s/providers/Microsoft.Compute/"
        "locations/eastus/operations/op1"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            body = json.loads(request.content)
            message = run_like_azure(body)
            handler.result = {
                "value": [
                    {
                        "code": "ProvisioningState/succeeded",  # type: ignore
                        "message": message,
                    }
                ]
            }
            return httpx.Response(202, headers={"Location": operation, "Retry-After": "0"})
        return httpx.Response(200, json=handler.result)  # type: ignore[attr-defined]

    async def no_sleep(_seconds: float) -> None:
        return None

    arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("tok-abcdef", "token")),
        correlation_id="corr",
        transport=httpx.MockTransport(handler),
        sleep=no_sleep,
    )
    async with arm:
        runner = RunCommandRunner(arm, TARGET, Settings())
        result = await runner.run("echo hello; exit 3")
    assert (result.rc, result.stdout) == (3, "hello\n")
    assert seen[0].method == "POST" and seen[0].url.path.endswith("/virtualMachines/vm1/runCommand")
    assert seen[0].url.params["api-version"] == "2025-04-01"


async def no_sleep(_seconds: float) -> None:
    return None


def mock_arm(handler: Any) -> ArmClient:
    return ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("tok-abcdef", "token")),
        correlation_id="corr",
        transport=httpx.MockTransport(handler),
        sleep=no_sleep,
    )


OPERATION = (
    "https://management.azure.com/subscriptions/s/providers/Microsoft.Compute/"
    "locations/eastus/operations/op1"
)


def flaky_run_command(failures: list[str]) -> tuple[list[str], Any]:
    """A Run Command endpoint whose first POSTs fail as `failures` says ("503", "drop");
    then 202 with only Azure-AsyncOperation, the result on the status body (D5)."""
    sent: list[str] = []
    result: dict[str, Any] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            sent.append("POST")
            failure = failures.pop(0) if failures else None
            if failure == "503":
                return httpx.Response(
                    503, json={"error": {"code": "ServiceUnavailable", "message": "try again"}}
                )
            message = run_like_azure(json.loads(request.content))
            result["output"] = {
                "value": [{"code": "ProvisioningState/succeeded", "message": message}]
            }
            if failure == "drop":  # Azure took it, the answer never arrived
                raise httpx.ReadError("connection reset", request=request)
            return httpx.Response(
                202, headers={"Azure-AsyncOperation": OPERATION, "Retry-After": "0"}
            )
        return httpx.Response(
            200, json={"status": "Succeeded", "name": "op1", "properties": result}
        )

    return sent, handler


async def test_d5_result_on_the_operation_status_body() -> None:
    sent, handler = flaky_run_command([])
    async with mock_arm(handler) as arm:
        result = await RunCommandRunner(arm, TARGET, Settings()).run("echo hi; exit 4")
    assert (result.rc, result.stdout) == (4, "hi\n") and sent == ["POST"]


@pytest.mark.parametrize("failure", ["503", "drop"])
async def test_read_only_scripts_are_retried_others_never_resent(failure: str) -> None:
    sent, handler = flaky_run_command([failure])
    async with mock_arm(handler) as arm:
        result = await RunCommandRunner(arm, TARGET, Settings()).run("echo ro", read_only=True)
    assert (result.rc, result.stdout) == (0, "ro\n") and sent == ["POST", "POST"]
    sent, handler = flaky_run_command([failure])
    async with mock_arm(handler) as arm:
        with pytest.raises(StepError) as err:
            await RunCommandRunner(arm, TARGET, Settings()).run("echo apply")
    assert sent == ["POST"]  # an apply script is sent once: Azure may have it
    assert ("503" in str(err.value)) if failure == "503" else ("dropped" in str(err.value))


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
