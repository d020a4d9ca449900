"""Guest script runners: local bash, a bubblewrap fake root (tests), and ARM Run Command.

All implement `fipswizard.context.ScriptRunner`. Secrets reach a script only as environment
variables (`FW_SECRET_<NAME>`), never argv nor the guest's disk (Run Command sends them as
managed Run Command protected parameters); every runner passes output through `redact`.
"""

from __future__ import annotations

import asyncio
import os
import secrets as pysecrets
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from fipswizard.context import ScriptResult, Settings, Target
from fipswizard.errors import StepError
from fipswizard.guest import managed_run
from fipswizard.guest.protocol import (
    MARKER_NAME,
    MAX_SCRIPT_BYTES,
    NO_RC,
    RC_LINE,
    RC_VAR,
    TIMED_OUT,
    secret_var,
)
from fipswizard.secrets import Secret, redact

STANDINS = "/opt/fw-standins"
HOST_ALTERNATIVES = "/.fw-host/bin"  # host tools that /usr/bin reaches via /etc/alternatives
SANDBOX_PATH = (
    f"{STANDINS}:{HOST_ALTERNATIVES}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)


def secret_env(
    names: Iterable[str], available: Mapping[str, Secret], *, required: bool = True
) -> dict[str, Secret]:
    """The `FW_SECRET_<NAME>` variables for `names`; a missing required secret is a StepError."""
    env: dict[str, Secret] = {}
    for name in names:
        if name in available and available[name]:
            env[secret_var(name)] = available[name]
        elif required:
            raise StepError(
                f"this step needs the secret '{name}', which was not provided",
                missing_secret_advice(name),
            )
    return env


def missing_secret_advice(name: str) -> str:
    """Where a secret can come from, as the user can type it (no such thing as a flag)."""
    from fipswizard.recipe import DEFAULT_SECRET_SOURCES

    default = DEFAULT_SECRET_SOURCES.get(name, "")
    variable = default[4:] if default.startswith("env:") else f"FIPSWIZARD_{name.upper()}"
    return (
        f"run `read -rs {variable} && export {variable}` (paste the value, press Enter) "
        f"and re-run; or say in the recipe's [secrets] table where it comes from: "
        f'{name} = "env:VAR" or {name} = "file:PATH"'
    )


def _decode(data: bytes | None) -> str:
    return redact((data or b"").decode("utf-8", errors="replace"))


async def _run_process(argv: list[str], env: dict[str, str], timeout: float) -> ScriptResult:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (TimeoutError, asyncio.CancelledError):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        await proc.wait()
        return ScriptResult(TIMED_OUT, "", f"fipswizard: script timed out after {timeout:g} s\n")
    return ScriptResult(
        proc.returncode if proc.returncode is not None else 1, _decode(out), _decode(err)
    )


class LocalRunner:
    """Runs scripts with the local bash (the tool runs inside the VM, as root)."""

    name = "local"

    async def run(
        self,
        script: str,
        *,
        env: Mapping[str, Secret] | None = None,
        timeout: float = 900,
        read_only: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> ScriptResult:
        full = {**os.environ, "LC_ALL": "C", **{k: v.reveal() for k, v in (env or {}).items()}}
        return await _run_process(["bash", "-c", script, "fipswizard-script"], full, timeout)


# ------------------------------------------------------------------------------ bubblewrap


def bwrap_problem() -> str | None:
    """Why bubblewrap cannot run sandboxes here, or None when it can."""
    return _bwrap_problem()


def bwrap_available() -> bool:
    return _bwrap_problem() is None


@lru_cache(maxsize=1)
def _bwrap_problem() -> str | None:
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    argv = [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--ro-bind",
        "/",
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--tmpfs",
        "/tmp",
        "true",
    ]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"bwrap could not start: {err}"
    if done.returncode != 0:
        return f"bwrap cannot create namespaces here: {done.stderr.strip()[:200]}"
    return None


_HOST_TOP = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
_NOT_FROM_ROOT = {*_HOST_TOP, "usr", "proc", "dev", "sys", "tmp"}
_DEFAULT_CMDLINE = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro console=ttyS0"


class BwrapRunner:
    """Runs bash in a bubblewrap sandbox where a fake root's files sit at their real paths.

    Host `/usr` (bash, coreutils) is read-only; entries of `<root>/usr` are merged in (tmpfs
    mount points where the host has no such entry, e.g. /usr/lib/python3.9). Every other
    top-level directory of the fake root (/etc, /var, /oem, /boot, /home, /root, /opt, ...)
    is bound read-write. `/proc/sys/crypto/fips_enabled` reads `fips_enabled`; where the host
    kernel has no /proc/sys/crypto (no FIPS support), /proc/sys becomes a tmpfs holding only
    `crypto/` and the host's `kernel/`. `/proc/cmdline` reads `<root>/proc/cmdline` if present,
    else a plain command line (plus `fips=1` when fips_enabled is "1"). No network.
    """

    name = "bwrap"

    def __init__(self, root: Path, standins: Path | None = None, fips_enabled: str = "0") -> None:
        self.root = Path(root).resolve()
        self.standins = Path(standins).resolve() if standins else None
        self.fips_enabled = fips_enabled

    def argv(self, scratch: Path) -> list[str]:
        args = [
            "bwrap",
            "--unshare-all",
            "--die-with-parent",
            "--new-session",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for name in _HOST_TOP:
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), str(host)]
            elif host.is_dir():
                args += ["--ro-bind", str(host), str(host)]
        if (self.root / "usr").is_dir():
            _overlay(Path("/usr"), self.root / "usr", args)
        for name, real in _host_alternatives():  # the fake /etc has no alternatives links
            args += ["--symlink", real, f"{HOST_ALTERNATIVES}/{name}"]
        for entry in sorted(self.root.iterdir()):
            if entry.name in _NOT_FROM_ROOT:
                continue
            if entry.is_symlink():
                args += ["--symlink", os.readlink(entry), f"/{entry.name}"]
            else:
                args += ["--bind", str(entry), f"/{entry.name}"]
        tmp = self.root / "tmp"
        args += ["--bind", str(tmp), "/tmp"] if tmp.is_dir() else ["--tmpfs", "/tmp"]
        args += ["--dev", "/dev", "--proc", "/proc"]
        args += self._proc_files(scratch)
        if self.standins and self.standins != self.root / STANDINS.lstrip("/"):
            args += ["--ro-bind", str(self.standins), STANDINS]
        return [*args, "--chdir", "/"]

    def _proc_files(self, scratch: Path) -> list[str]:
        fips = scratch / "fips_enabled"
        fips.write_text(f"{self.fips_enabled}\n", encoding="utf-8")
        fake_cmdline = self.root / "proc" / "cmdline"
        cmdline = scratch / "cmdline"
        if fake_cmdline.is_file():
            shutil.copyfile(fake_cmdline, cmdline)
        else:
            extra = " fips=1" if self.fips_enabled.strip() == "1" else ""
            cmdline.write_text(_DEFAULT_CMDLINE + extra + "\n", encoding="utf-8")
        args = ["--ro-bind", str(cmdline), "/proc/cmdline"]
        if Path("/proc/sys/crypto/fips_enabled").exists():
            args += ["--ro-bind", str(fips), "/proc/sys/crypto/fips_enabled"]
        else:  # procfs cannot grow a directory: replace /proc/sys, keep the host's kernel/
            args += [
                "--tmpfs",
                "/proc/sys",
                "--dir",
                "/proc/sys/crypto",
                "--ro-bind",
                str(fips),
                "/proc/sys/crypto/fips_enabled",
                "--ro-bind",
                "/proc/sys/kernel",
                "/proc/sys/kernel",
            ]
        return args

    async def run(
        self,
        script: str,
        *,
        env: Mapping[str, Secret] | None = None,
        timeout: float = 900,
        read_only: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> ScriptResult:
        # Variables go through bwrap's own environment (inherited), never its argv.
        full = {
            "PATH": SANDBOX_PATH,
            "HOME": "/root",
            "LC_ALL": "C",
            "TERM": "dumb",
            **{k: v.reveal() for k, v in (env or {}).items()},
        }
        with tempfile.TemporaryDirectory(prefix="fw-bwrap-") as scratch:
            argv = [*self.argv(Path(scratch)), "bash", "-c", script, "fipswizard-script"]
            return await _run_process(argv, full, timeout)


@lru_cache(maxsize=1)
def _host_alternatives() -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for folder in (Path("/usr/sbin"), Path("/usr/bin")):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.is_symlink() and os.readlink(entry).startswith("/etc/alternatives/"):
                real = os.path.realpath(entry)
                if real.startswith("/usr/") and os.access(real, os.X_OK):
                    found[entry.name] = real
    return tuple(sorted(found.items()))


def _overlay(host: Path, fake: Path, args: list[str]) -> None:
    """Make the entries of `fake` appear inside the read-only host directory `host`."""
    entries = sorted(fake.iterdir())
    if any(not os.path.lexists(host / e.name) or e.is_symlink() for e in entries):
        # New names need mount points: hide `host` under a tmpfs and put its entries back.
        args += ["--tmpfs", str(host)]
        fakes = {e.name: e for e in entries}
        for h in sorted(host.iterdir()):
            if h.name in fakes and not _mergeable(fakes[h.name], h):
                continue  # the fake entry replaces it
            if h.is_symlink():
                args += ["--symlink", os.readlink(h), str(h)]
            else:
                args += ["--ro-bind", str(h), str(h)]
    for e in entries:
        dest = host / e.name
        if _mergeable(e, dest):
            _overlay(dest, e, args)
        elif e.is_symlink():
            args += ["--symlink", os.readlink(e), str(dest)]
        else:
            args += ["--bind", str(e), str(dest)]


def _mergeable(fake: Path, host: Path) -> bool:
    return fake.is_dir() and not fake.is_symlink() and host.is_dir() and not host.is_symlink()


# ------------------------------------------------------------------------------ Run Command


class ArmApi(Protocol):
    """The part of `ArmClient` the Run Command runner uses."""

    async def get(self, path: str, api_version: str, **query: str) -> Any: ...

    async def put(
        self,
        path: str,
        api_version: str,
        body: Any,
        *,
        if_match: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Any: ...

    async def post(
        self,
        path: str,
        api_version: str,
        body: Any = None,
        *,
        retry_safe: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> Any: ...

    async def delete(
        self, path: str, api_version: str, *, progress: Callable[[str], None] | None = None
    ) -> Any: ...


Say = Callable[[str], None]
Sleep = Callable[[float], Awaitable[None]]

RUN_COMMAND_SLACK = 600.0  # Run Command itself needs time to start the script and report
# VMs whose leftover managed run commands were looked for, per ARM client (i.e. per run).
_swept: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _busy(err: Exception) -> bool:
    """409 "Run command extension execution is in progress": another Run Command (perhaps of
    a killed earlier run) still runs on the VM. Azure refused ours, so sending it later is
    safe. Other 409s (e.g. OperationNotAllowed: VM not running) are real failures."""
    status, message = getattr(err, "status", None), str(getattr(err, "message", ""))
    return status == 409 and "in progress" in message.lower()


class RunCommandRunner:
    """Runs a script on the VM through Run Command and waits for the result.

    Two channels. A script that receives secrets runs through managed Run Command
    (`PUT {vm}/runCommands/{name}` with `protectedParameters`, see managed_run.py), which
    leaves no copy of them on the guest's disk; the resource is deleted afterwards, always.
    Every other script stays on action Run Command (`POST {vm}/runCommand`, RunShellScript):
    one request instead of three, and no resource to clean up.

    Action Run Command limits (Azure docs): only the last 4,096 bytes of output come back,
    one script at a time per VM, at least ~20 s each, no cancel, the VM agent must be Ready.
    The script is written to a temp file and run by bash so that it cannot read its own text
    from stdin; the wrapper prints `__FW_RC=<rc>` as the last stdout line, which survives the
    4 KB cut. A read-only script is sent again after a 5xx or dropped connection; others never
    are once Azure may have them. A 409 "execution is in progress" is waited out (bounded by
    the script's timeout), with progress lines.
    """

    name = "run-command"

    def __init__(
        self,
        arm: ArmApi,
        target: Target,
        settings: Settings,
        *,
        progress: Say | None = None,
        location: str | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.arm, self.target, self.settings = arm, target, settings
        self.progress = progress
        self.location = location
        self._sleep, self._clock = sleep, clock

    def wrap(self, script: str, timeout: float) -> str:
        tag = f"__FW_EOF_{pysecrets.token_hex(6)}"
        while tag in script:  # pragma: no cover - 48 random bits
            tag = f"__FW_EOF_{pysecrets.token_hex(6)}"
        seconds = max(1, int(timeout))
        return "\n".join(
            [
                "__fw_f=$(mktemp /tmp/fipswizard.XXXXXX) || "
                f"{{ echo '{RC_VAR}={NO_RC}'; exit 0; }}",
                f"cat >\"$__fw_f\" <<'{tag}'",
                script.rstrip("\n"),
                tag,
                "if command -v timeout >/dev/null 2>&1; then",
                f'  timeout {seconds} bash "$__fw_f" </dev/null',
                "else",
                '  bash "$__fw_f" </dev/null',
                "fi",
                "__fw_rc=$?",
                'rm -f "$__fw_f"',
                f'echo "{RC_VAR}=$__fw_rc"',
            ]
        )

    def body(self, script: str, timeout: float) -> dict[str, Any]:
        """The action Run Command body: never any parameter (secrets go the managed way)."""
        return {"commandId": "RunShellScript", "script": self.wrap(script, timeout).split("\n")}

    async def run(
        self,
        script: str,
        *,
        env: Mapping[str, Secret] | None = None,
        timeout: float = 900,
        read_only: bool = False,
        progress: Say | None = None,
    ) -> ScriptResult:
        if len(script.encode()) > MAX_SCRIPT_BYTES:
            raise StepError(
                f"the guest script is {len(script.encode())} bytes, over "
                f"fipswizard's {MAX_SCRIPT_BYTES}-byte budget for Run Command",
                "shorten the recipe snippet (or split the step)",
            )
        # `progress` (the step's output) gets what the user must know: waits, leftovers;
        # the runner's own `self.progress` also gets every request and poll (verbose).
        say = progress or self.progress or (lambda _text: None)
        marker = MARKER_NAME.search(script)
        what = marker.group(1) if marker else "script"
        channel = "managed Run Command" if env else "Run Command"
        if self.progress:
            self.progress(f"{channel} on {self.target.vm}: {what}")
        if env:
            return await self._managed(script, env, timeout, say)
        return await self._action(script, timeout, read_only, say)

    # ---- action Run Command (no secrets)
    async def _action(self, script: str, timeout: float, read_only: bool, say: Say) -> ScriptResult:
        from fipswizard.azure.arm import ArmError

        path = f"{self.target.vm_path}/runCommand"
        deadline = self._clock() + timeout
        while True:
            try:
                resp = await asyncio.wait_for(
                    self.arm.post(
                        path,
                        self.settings.compute_api,
                        self.body(script, timeout),
                        retry_safe=read_only,
                        progress=self.progress,
                    ),
                    timeout + RUN_COMMAND_SLACK,
                )
            except ArmError as err:
                left = deadline - self._clock()
                if _busy(err) and left > 0:
                    pause = min(max(self.settings.agent_poll, 0.01), left)
                    say(
                        f"another Run Command is still running on {self.target.vm} (perhaps "
                        f"from an interrupted run): waiting, {left:.0f}s left"
                    )
                    await self._sleep(pause)
                    continue
                raise _run_command_error(self.target.vm, err) from None
            except TimeoutError:
                return ScriptResult(
                    TIMED_OUT,
                    "",
                    f"fipswizard: Run Command gave no result "
                    f"after {timeout + RUN_COMMAND_SLACK:g} s\n",
                )
            return parse_run_command(getattr(resp, "body", resp))

    # ---- managed Run Command (secrets as protectedParameters)
    async def _managed(
        self, script: str, env: Mapping[str, Secret], timeout: float, say: Say
    ) -> ScriptResult:
        from fipswizard.azure.arm import ArmError

        api, vm_path = self.settings.compute_api, self.target.vm_path
        try:
            await self._sweep(say)
            location = self.location or await self._vm_location()
            path = f"{vm_path}/runCommands/{managed_run.new_name()}"
        except ArmError as err:
            raise _run_command_error(self.target.vm, err) from None
        try:
            await asyncio.wait_for(
                self.arm.put(
                    path,
                    api,
                    managed_run.body(location, script, env, timeout),
                    progress=self.progress,
                ),
                timeout + RUN_COMMAND_SLACK,
            )
            resource = await self._read_result(path, timeout)
        except ArmError as err:
            raise _run_command_error(self.target.vm, err) from None
        except TimeoutError:
            return ScriptResult(
                TIMED_OUT,
                "",
                f"fipswizard: managed Run Command gave no result "
                f"after {timeout + RUN_COMMAND_SLACK:g} s\n",
            )
        finally:
            await _shielded(self._delete(path, say))
        return parse_managed_run(resource)

    async def _read_result(self, path: str, timeout: float) -> Any:
        """GET with the instance view until the execution ended (the PUT normally waits)."""
        api = self.settings.compute_api
        deadline = self._clock() + timeout
        while True:
            resource = (await self.arm.get(path, api, **{"$expand": "instanceView"})).body
            if managed_run.finished(resource) or self._clock() >= deadline:
                return resource
            await self._sleep(max(self.settings.agent_poll, 0.01))

    async def _vm_location(self) -> str:
        body = (await self.arm.get(self.target.vm_path, self.settings.compute_api)).body
        location = body.get("location") if isinstance(body, dict) else None
        if not isinstance(location, str) or not location:
            raise StepError(
                f"the VM {self.target.vm} read has no 'location': cannot create a "
                "managed Run Command",
                "re-run; if it persists, check the VM in the portal",
            )
        self.location = location
        return location

    async def _sweep(self, say: Say) -> None:
        """Once per VM and ARM client: delete managed run commands a killed run left behind
        (our tag only; nothing else is touched)."""
        done = _swept.setdefault(self.arm, set())
        key = self.target.vm_path.lower()
        if key in done:
            return
        listing = (
            await self.arm.get(f"{self.target.vm_path}/runCommands", self.settings.compute_api)
        ).body
        items = listing.get("value") if isinstance(listing, dict) else None
        for item in items if isinstance(items, list) else []:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and managed_run.ours(item):
                say(f"deleting run command {name} left on {self.target.vm} by an earlier run")
                await self.arm.delete(
                    f"{self.target.vm_path}/runCommands/{name}", self.settings.compute_api
                )
        done.add(key)

    async def _delete(self, path: str, say: Say) -> None:
        from fipswizard.azure.arm import ArmError

        try:
            await self.arm.delete(path, self.settings.compute_api)
        except ArmError as err:
            # The script already ran; its secrets are not readable back from the resource.
            # A later run on this VM deletes it (it carries our tag).
            say(
                f"could not delete run command {path.rsplit('/', 1)[-1]} on {self.target.vm}: "
                f"{redact(str(err)).splitlines()[0]}; a later run deletes it (our tag)"
            )


async def _shielded(work: Coroutine[Any, Any, None]) -> None:
    """Finish `work` even if this task is cancelled meanwhile; then re-raise the cancel."""
    task = asyncio.ensure_future(work)
    cancelled = False
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.cancelled():
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def _run_command_error(vm: str, err: Exception) -> StepError:
    return StepError(
        f"Run Command failed on {vm}: {redact(str(err))}",
        "Run Command needs the VM agent Ready and outbound 443 from the VM; "
        "only one Run Command runs at a time",
    )


def parse_managed_run(resource: Any) -> ScriptResult:
    """Exit code, stdout and stderr from a managed run command's instance view (redacted)."""
    view = managed_run.instance_view(resource)
    state = str(view.get("executionState") or "Unknown")
    out = redact(str(view.get("output") or ""))
    err = redact(str(view.get("error") or ""))
    code = view.get("exitCode")
    if state.lower() == "timedout":
        return ScriptResult(TIMED_OUT, out, err + "fipswizard: the managed Run Command timed out\n")
    if isinstance(code, bool) or not isinstance(code, int):
        message = redact(str(view.get("executionMessage") or ""))
        detail = f": {message}" if message else ""
        return ScriptResult(
            NO_RC,
            out,
            err + "fipswizard: the managed Run Command gave no exit "
            f"code (executionState {state}{detail})\n",
        )
    return ScriptResult(code, out, err)


def parse_run_command(body: Any) -> ScriptResult:
    """Split a RunCommandResult into stdout/stderr and take the rc from `__FW_RC=`."""
    stdout, stderr = "", ""
    items = _result_items(body)
    for item in items or []:
        code, message = str(item.get("code", "")), str(item.get("message") or "")
        if "StdOut" in code:
            stdout += message
        elif "StdErr" in code:
            stderr += message
        else:
            out, err = _split_message(message)
            stdout, stderr = stdout + out, stderr + err
    lines = stdout.rstrip().split("\n") if stdout.strip() else []
    match = RC_LINE.match(lines[-1]) if lines else None
    if match is None:
        note = (
            "fipswizard: the exit-code line (__FW_RC=) is missing from the Run Command "
            "output: it keeps only the last 4096 bytes, so the output was cut or the "
            "script was killed\n"
        )
        return ScriptResult(NO_RC, redact("\n".join(lines)), redact(stderr.rstrip() + "\n" + note))
    out = "\n".join(lines[:-1])
    return ScriptResult(
        int(match.group(1)),
        redact(out + "\n" if out else ""),
        redact(stderr.strip() + "\n" if stderr.strip() else ""),
    )


def _result_items(body: Any) -> list[Any]:
    """The InstanceViewStatus list: a RunCommandResult `{"value": [...]}` (Location GET), or
    an operation status body whose `properties.output` holds the list or `{"value": [...]}`
    (a 202 with only Azure-AsyncOperation; spec 2017-03-30 VirtualMachineRunCommand.json)."""
    if not isinstance(body, dict):
        return []
    items = body.get("value")
    if items is None and isinstance(body.get("properties"), dict):
        output = body["properties"].get("output")
        items = output.get("value") if isinstance(output, dict) else output
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _split_message(message: str) -> tuple[str, str]:
    """'Enable succeeded: \\n[stdout]\\n...\\n[stderr]\\n...' -> (stdout, stderr)."""
    out_tag, err_tag = "[stdout]\n", "[stderr]\n"
    out_at = message.find(out_tag)
    if out_at < 0:
        err_at = message.find(err_tag)
        return "", message[err_at + len(err_tag) :] if err_at >= 0 else ""
    start = out_at + len(out_tag)
    err_at = message.find("\n" + err_tag, start - 1)
    if err_at < 0:
        return message[start:], ""
    return message[start : err_at + 1], message[err_at + 1 + len(err_tag) :]
