"""Every interruption is recoverable (issue 7 item 7): a run with the deallocate fix and
VMAccess validation is interrupted right after each of its writes (the request reached
Azure, the answer never reached fipswizard: the worst moment). Then the next `apply` ends
compliant with the VM running, and `rollback` ends with the VM running and consistent, no
temporary user and no extension the run created."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from fipswizard.context import Target
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, run_apply, run_rollback
from tests.inproc import FAST

VM = "ubuntu2204-fipsimage"  # protected settings fail until deallocate + start
# POST feature register, POST provider register, PUT flag, PUT CustomScript (fails: old
# package), POST deallocate, POST start, PUT CustomScript, PUT VMAccess "create user",
# PUT VMAccess "remove user".
WRITES = 9


class Killed(BaseException):
    """The process died: no `except Exception` (no journal line, no cleanup) sees it."""


class KillAfter(httpx.AsyncBaseTransport):
    """Forwards requests; once the Nth write has been handled by the sandbox, the process
    "dies" (as with SIGKILL) before fipswizard sees the answer: nothing more is sent."""

    def __init__(self, inner: httpx.AsyncBaseTransport, n: int) -> None:
        self.inner, self.n, self.writes = inner, n, []
        self.dead = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.dead:
            raise Killed
        response = await self.inner.handle_async_request(request)
        if request.method != "GET":
            self.writes.append(f"{request.method} {request.url.path.rsplit('/', 2)[-2:]}")
            if len(self.writes) == self.n:
                self.dead = True
                raise Killed
        return response


def recipe(sandbox: SandboxAzure) -> Recipe:
    vm = sandbox.estate.vms[VM]
    return Recipe(
        targets=(RecipeTarget(Target(vm.subscription, vm.resource_group, VM), "none"),),
        fix="reallocate",
    )


async def interrupted(n: int, tmp_path: Path) -> tuple[SandboxAzure, Options, KillAfter]:
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    killer = KillAfter(sandbox.transport(), n)
    opts = Options(arm_endpoint="https://management.azure.com", settings=FAST, transport=killer)
    with pytest.raises(Killed):
        await run_apply(
            recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None
        )
    assert len(killer.writes) == n
    await asyncio.sleep(0.3)  # the sandbox finishes what it had accepted
    sandbox.settle()
    plain = Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )
    return sandbox, plain, killer


FLAG_PUT = 3  # the third write sets the flag; before it the VM is as the image made it


def assert_clean(sandbox: SandboxAzure, n: int) -> None:
    vm = sandbox.estate.vms[VM]
    assert vm.power_state == "running" and vm.guest.agent_ready()
    assert vm.guest.users == {}, vm.guest.users
    # Consistent, or (killed before the flag PUT) exactly as the image left it: a FIPS guest
    # with the flag off, which the tool did not make and does not touch.
    assert vm.fips_flag or not vm.guest.fips_enabled or n < FLAG_PUT


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "token-for-recovery")


def test_the_run_sends_the_writes_counted() -> None:
    """Keeps WRITES honest: an uninterrupted run sends exactly that many writes."""

    async def go(tmp: Path) -> list[str]:
        sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
        killer = KillAfter(sandbox.transport(), 10_000)
        opts = Options(arm_endpoint="https://management.azure.com", settings=FAST, transport=killer)
        done = await run_apply(recipe(sandbox), opts, HeadlessPrompter(True), tmp, lambda e: None)
        assert done.ok, done.to_text()
        return killer.writes

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        writes = asyncio.run(go(Path(folder) / "j"))
    assert len(writes) == WRITES, writes


@pytest.mark.parametrize("n", range(1, WRITES + 1))
async def test_next_apply_recovers(n: int, tmp_path: Path) -> None:
    sandbox, opts, _ = await interrupted(n, tmp_path)
    again = await run_apply(
        recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None
    )
    assert again.ok, again.to_text()
    assert_clean(sandbox, n)
    vm = sandbox.estate.vms[VM]
    assert vm.fips_flag and vm.cert_package == "fips-140-3"


@pytest.mark.parametrize("n", range(1, WRITES + 1))
async def test_rollback_recovers(n: int, tmp_path: Path) -> None:
    sandbox, opts, _ = await interrupted(n, tmp_path)
    back = await run_rollback(tmp_path / "j", opts, HeadlessPrompter(True), lambda e: None)
    assert_clean(sandbox, n)
    vm = sandbox.estate.vms[VM]
    assert not {"fipswizard-validate", "enablevmaccess"} & set(vm.extensions), vm.extensions
    # The image was in FIPS mode before the run: the flag, once set, stays on (consistent).
    row = next(iter(back.targets.values()))
    assert str(row.outcome) in ("rolled back", "partly rolled back")
    if vm.fips_flag:
        assert "guest is in FIPS mode" in row.detail


class CtrlCAfter(httpx.AsyncBaseTransport):
    """Ctrl-C right after the Nth write reached Azure: `asyncio.run` turns SIGINT into a
    cancellation of the main task, which is what this does to the run's task."""

    def __init__(self, inner: httpx.AsyncBaseTransport, n: int) -> None:
        self.inner, self.n, self.writes = inner, n, 0
        self.task: asyncio.Task[object] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET":
            self.writes += 1
            if self.writes == self.n and self.task is not None:
                self.task.cancel()
        return response


@pytest.mark.parametrize("n", range(1, WRITES + 1))
async def test_ctrl_c_after_each_write_leaves_the_vm_running_and_recoverable(
    n: int, tmp_path: Path
) -> None:
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    ctrl_c = CtrlCAfter(sandbox.transport(), n)
    opts = Options(arm_endpoint="https://management.azure.com", settings=FAST, transport=ctrl_c)
    task = asyncio.ensure_future(
        run_apply(recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None)
    )
    ctrl_c.task = task
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0.3)  # the sandbox finishes what it had accepted
    sandbox.settle()
    vm = sandbox.estate.vms[VM]
    # A disruptive step under way finishes (or never started): the VM is not left down.
    assert vm.power_state == "running", (n, vm.power_state)
    plain = Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )
    again = await run_apply(
        recipe(sandbox), plain, HeadlessPrompter(True), tmp_path / "j", lambda e: None
    )
    assert again.ok, again.to_text()
    assert_clean(sandbox, n)
    await run_rollback(tmp_path / "j", plain, HeadlessPrompter(True), lambda e: None)
    assert_clean(sandbox, n)
    assert not {"fipswizard-validate", "enablevmaccess"} & set(vm.extensions), vm.extensions


class RefuseStartOnce(httpx.AsyncBaseTransport):
    """Azure refuses the first start after the fix's deallocate, as when the region has no
    capacity for the size: 409 AllocationFailed ("Troubleshoot allocation failures when you
    create, restart, or resize VMs in Azure", learn.microsoft.com/troubleshoot/azure/
    virtual-machines/windows/allocation-failure). The VM stays deallocated."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.refused = inner, 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/start") and not self.refused:
            self.refused += 1
            return httpx.Response(
                409,
                json={
                    "error": {
                        "code": "AllocationFailed",
                        "message": "Allocation failed. We do not have sufficient capacity for "
                        "the requested VM size in this region.",
                    }
                },
            )
        return await self.inner.handle_async_request(request)


async def test_failed_start_of_the_fix_is_recovered_by_the_next_apply(tmp_path: Path) -> None:
    from fipswizard.engine.journal import Journal

    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    refusing = RefuseStartOnce(sandbox.transport())
    arm = "https://management.azure.com"
    opts = Options(arm_endpoint=arm, settings=FAST, transport=refusing)
    first = await run_apply(
        recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None
    )
    assert refusing.refused == 1 and not first.ok
    assert sandbox.estate.vms[VM].power_state == "deallocated"
    fails = [r for r in Journal(tmp_path / "j").records() if r.get("status") == "failed"]
    assert "fix-reallocate" in {r["step_id"] for r in fails}
    again = await run_apply(
        recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None
    )
    assert again.ok, again.to_text()
    assert_clean(sandbox, WRITES)
    vm = sandbox.estate.vms[VM]
    assert vm.fips_flag and vm.cert_package == "fips-140-3"
    records = Journal(tmp_path / "j").records()
    recovered = [r for r in records if r["event"] == "recover"]
    assert len(recovered) == 1 and "started" in recovered[0]["detail"]
    # Settled: a third apply neither recovers again nor writes.
    sandbox.log.clear()
    third = await run_apply(
        recipe(sandbox), opts, HeadlessPrompter(True), tmp_path / "j", lambda e: None
    )
    assert third.ok, third.to_text()
    assert len([r for r in Journal(tmp_path / "j").records() if r["event"] == "recover"]) == 1
    assert sandbox.log.writes() == []
