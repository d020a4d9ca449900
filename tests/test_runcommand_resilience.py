"""Run Command through the real ArmClient and the sandbox: the two channels, retries of
read-only scripts, a Run Command left running by a killed run, D5 answers, D10 restart."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from fipswizard.azure.arm import ArmClient
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.context import Context, Settings, Target
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.errors import StepError
from fipswizard.guest.recipes import load_guest_recipe
from fipswizard.guest.runners import RunCommandRunner
from fipswizard.guest.script_steps import RebootStep, guest_steps
from fipswizard.sandbox import FakeClock, SandboxAzure
from fipswizard.sandbox.arm_runcommand import options
from fipswizard.sandbox.estate import DEMO_GROUP, DEMO_SUBSCRIPTION
from fipswizard.sandbox.faults import Rule
from fipswizard.sandbox.guest_model import SimGuest, script_handler
from fipswizard.sandbox.testing import arm_client
from fipswizard.secrets import Secret

API = "2025-04-01"
TOKEN = "pro-Resilience-T0ken-do-not-keep"
VM = "ubuntu2204-web"


@script_handler("test-resilience-token")
def _token(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    guest.extra["token_runs"] = guest.extra.get("token_runs", 0) + 1
    ok = params.get("FW_SECRET_PRO_TOKEN") == TOKEN
    return (0 if ok else 3), f"token_ok={'yes' if ok else 'no'}\n", ""


@script_handler("test-resilience-read")
def _read(guest: SimGuest, script: str, params: Mapping[str, str]) -> tuple[int, str, str]:
    guest.extra["read_runs"] = guest.extra.get("read_runs", 0) + 1
    if "missing" in script:
        return 1, "", "cat: /no/such/file: No such file or directory\n"
    return 0, f"fips_enabled={int(guest.fips_enabled)}\n", ""


READ = "# fipswizard-script: test-resilience-read\ncat /proc/sys/crypto/fips_enabled\n"


class Cloud:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.sandbox = SandboxAzure(clock=self.clock, op_seconds=20)
        self.target = Target(DEMO_SUBSCRIPTION, DEMO_GROUP, VM)
        self.arm = ArmClient(
            CLOUDS["AzureCloud"],
            StaticToken(Secret("tok-resilience", "t")),
            correlation_id="resilience",
            transport=self.sandbox.transport(),
            sleep=self.sleep,
        )
        self.progress: list[str] = []

    async def sleep(self, seconds: float) -> None:
        self.clock.advance(max(seconds, 0.5))

    def runner(self) -> RunCommandRunner:
        return RunCommandRunner(
            self.arm,
            self.target,
            Settings(agent_poll=5),
            progress=self.progress.append,
            sleep=self.sleep,
            clock=self.clock,
        )

    @property
    def guest(self) -> SimGuest:
        return self.sandbox.estate.vms[VM].guest

    def posts(self, suffix: str) -> int:
        return sum(
            1
            for e in self.sandbox.log.writes()
            if e["method"] == "POST" and e["path"].endswith(suffix)
        )


@pytest.fixture
async def cloud() -> Cloud:
    return Cloud()


async def test_d5_only_azure_asyncoperation_still_gives_output_and_rc(cloud: Cloud) -> None:
    options(cloud.sandbox).location_header = False
    result = await cloud.runner().run(READ, read_only=True)
    assert (result.rc, result.stdout) == (0, "fips_enabled=0\n")
    bad = await cloud.runner().run(READ + "missing", read_only=True)
    assert bad.rc == 1 and "No such file" in bad.stderr


async def test_read_only_script_is_retried_on_503(cloud: Cloud) -> None:
    cloud.sandbox.faults.rules = [Rule("status", r"/runCommand$", "POST", 503)]
    result = await cloud.runner().run(READ, read_only=True)
    assert result.rc == 0 and cloud.posts("/runCommand") == 2
    cloud.sandbox.faults.rules = [Rule("status", r"/runCommand$", "POST", 503)]
    with pytest.raises(StepError, match="503"):
        await cloud.runner().run(READ)  # not read-only
    assert cloud.posts("/runCommand") == 3


async def test_read_only_script_resent_after_a_drop_waits_out_the_409(cloud: Cloud) -> None:
    """The first POST reached Azure but its answer was lost: the resend meets 409 "in
    progress" (its own first copy), waits with progress lines, then runs."""
    cloud.sandbox.faults.rules = [Rule("drop-after", r"/runCommand$", "POST")]
    result = await cloud.runner().run(READ, read_only=True)
    assert result.rc == 0 and result.stdout == "fips_enabled=0\n"
    assert any("another Run Command is still running" in p for p in cloud.progress)


async def test_run_command_of_a_killed_run_is_waited_out(cloud: Cloud) -> None:
    """A killed earlier run left its Run Command executing: ours gets 409 "in progress",
    which is a refusal, so even an apply script is sent again once the VM is free."""
    async with arm_client(cloud.sandbox) as c:
        r = await c.post(
            cloud.target.vm_path + "/runCommand",
            params={"api-version": API},
            json={"commandId": "RunShellScript", "script": ["uname -r"]},
        )
        assert r.status_code == 202
    result = await cloud.runner().run(READ, timeout=300)
    assert (result.rc, result.stdout) == (0, "fips_enabled=0\n") and cloud.posts("/runCommand") >= 3
    waits = [p for p in cloud.progress if "another Run Command is still running" in p]
    assert waits and "interrupted run" in waits[0]


async def test_secrets_go_managed_and_leave_nothing_on_the_guest(cloud: Cloud) -> None:
    vm_path = cloud.target.vm_path
    location = cloud.sandbox.estate.vms[VM].location
    async with arm_client(cloud.sandbox) as c:  # leftovers: one of a killed run, one not ours
        for name, tags in (
            ("fipswizard-deadbeef0001", {"fipswizard": "run-command"}),
            ("ops-nightly", {"owner": "ops"}),
        ):
            r = await c.put(
                f"{vm_path}/runCommands/{name}",
                params={"api-version": API},
                json={
                    "location": location,
                    "tags": tags,
                    "properties": {"source": {"script": "true"}},
                },
            )
            assert r.status_code == 201
    env = {"FW_SECRET_PRO_TOKEN": Secret(TOKEN, "pro_token")}
    result = await cloud.runner().run("# fipswizard-script: test-resilience-token\n", env=env)
    assert (result.rc, result.stdout) == (0, "token_ok=yes\n")
    cloud.sandbox.settle()
    assert set(cloud.guest.run_commands) == {"ops-nightly"}  # ours deleted, theirs kept
    assert cloud.posts("/runCommand") == 0 and cloud.guest.extra["token_runs"] == 1
    assert not any(TOKEN in text for text in cloud.guest.files.values())
    assert TOKEN not in repr(cloud.sandbox.state())


async def test_restart_is_sent_once_when_the_connection_drops_after_it() -> None:
    """D10: the restart reached Azure, its answer did not. No second restart: the step
    watches the instance view and sees the agent come back after the reboot."""
    cloud = Cloud()  # the sandbox, the ARM client and the step share one virtual clock
    cloud.arm = ArmClient(
        CLOUDS["AzureCloud"],
        StaticToken(Secret("tok-resilience", "t")),
        correlation_id="d10",
        transport=cloud.sandbox.transport(),
        sleep=cloud.sleep,
    )
    reboot = next(
        s
        for s in guest_steps(load_guest_recipe("ubuntu"), cloud.target)
        if isinstance(s, RebootStep)
    )
    boots = cloud.guest.boot_count
    cloud.sandbox.faults.rules = [Rule("drop-after", r"/restart$", "POST")]
    ctx = Context(
        prompter=HeadlessPrompter(True),
        arm=cloud.arm,
        target=cloud.target,
        progress=cloud.progress.append,
        clock=cloud.clock,
        sleep=cloud.sleep,
    )
    await reboot.apply(ctx, None)  # type: ignore[arg-type]
    assert cloud.posts("/restart") == 1
    assert cloud.guest.boot_count == boots + 1
    assert any("not sending it again" in p for p in cloud.progress)


async def test_managed_put_resent_after_a_drop_runs_the_script_once(cloud: Cloud) -> None:
    """The ARM client sends a PUT again after a dropped answer; the same run command with the
    same properties is not run again (sandbox model, see arm_managed_runcommand.py)."""
    cloud.sandbox.faults.rules = [Rule("drop-after", r"/runCommands/fipswizard-", "PUT")]
    env = {"FW_SECRET_PRO_TOKEN": Secret(TOKEN, "pro_token")}
    result = await cloud.runner().run("# fipswizard-script: test-resilience-token\n", env=env)
    assert (result.rc, result.stdout) == (0, "token_ok=yes\n")
    puts = [e for e in cloud.sandbox.log.writes() if e["method"] == "PUT"]
    assert len(puts) == 2 and cloud.guest.extra["token_runs"] == 1
    cloud.sandbox.settle()
    assert cloud.guest.run_commands == {}
