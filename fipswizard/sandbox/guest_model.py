"""Simulated guests: the OS state inside each sandbox VM and how it answers scripts.

Extension point (OS-specific behaviour lives outside this file):
  * A script names its handler with a marker line `# fipswizard-script: <name>`.
  * Handlers register with `@script_handler("<name>", distros=("ubuntu",))`; a lookup tries
    (name, guest.distro_id) first, then (name, "*"). A handler gets (guest, script, params)
    and returns (exit code, stdout, stderr); it changes the guest through its fields and
    helpers: `write_file`, `request_reboot`, `pending_on_boot`, `extra`, `users`.
  * Modules named `fipswizard/sandbox/guest_os_*.py` are imported on first use, so
    dropping such a module in is enough to register its handlers.
  * Scripts without a marker go to a small generic fallback that understands `cat FILE`,
    `uname -r`, `waagent --version`, `echo`, comments and `set` lines. Anything else exits
    127 with "sandbox: no handler for script" on stderr.

Run Command output: `run_script` returns (rc, stdout, stderr) exactly as the script would.
The action Run Command front end (`arm_runcommand.py`) appends the line `__FW_RC=<rc>` to
stdout, as the engine's real wrapper script prints it on a VM, then formats the Azure message;
it also leaves the script on the guest's disk as RunCommandLinux does. Managed Run Command
(`arm_managed_runcommand.py`) reports the exit code itself. `params` are the script's
environment variables (action parameters, or managed protected parameters).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import shlex
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fipswizard.guest.protocol import MARKER_NAME

LATEST_AGENT = "2.15.0.1"  # what an auto-updating agent reaches
FIPS_AGENT_MIN = "2.14.0.1"  # first goal-state agent that reads the FIPS 140-3 package
WAAGENT_CONF = "/etc/waagent.conf"
CERTS_PEM = "/var/lib/waagent/Certificates.pem"
RHEL9_DAEMON_MAIN = "/usr/lib/python3.9/site-packages/azurelinuxagent/daemon/main.py"
NO_HANDLER = "sandbox: no handler for script"
BATCH_PREFIX = "engine/batch/"
MARKER = MARKER_NAME  # the marker line names the handler (fipswizard/guest/protocol.py)

ScriptResult = tuple[int, str, str]
ScriptHandler = Callable[["SimGuest", str, Mapping[str, str]], ScriptResult]
_HANDLERS: dict[tuple[str, str], ScriptHandler] = {}
_os_modules_loaded = False


def script_handler(
    name: str, distros: tuple[str, ...] = ("*",)
) -> Callable[[ScriptHandler], ScriptHandler]:
    """Register a handler for scripts marked `# fipswizard-script: <name>`."""

    def register(fn: ScriptHandler) -> ScriptHandler:
        for distro in distros:
            _HANDLERS[(name, distro)] = fn
        return fn

    return register


def script_name(script: str) -> str | None:
    match = MARKER.search(script)
    return match.group(1) if match else None


def find_handler(name: str, distro_id: str) -> ScriptHandler | None:
    _load_os_modules()
    return _HANDLERS.get((name, distro_id)) or _HANDLERS.get((name, "*"))


def _load_os_modules() -> None:
    global _os_modules_loaded
    if _os_modules_loaded:
        return
    _os_modules_loaded = True
    package = importlib.import_module("fipswizard.sandbox")
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("guest_os_"):
            importlib.import_module(f"fipswizard.sandbox.{info.name}")


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


@dataclass
class SimGuest:
    distro_id: str  # os-release ID: ubuntu, rhel, almalinux, flatcar
    distro_version: str  # os-release VERSION_ID
    kernel: str  # `uname -r`
    fips_enabled: bool = False  # /proc/sys/crypto/fips_enabled of the running kernel
    daemon_version: str = LATEST_AGENT  # installed WALinuxAgent package
    goal_state_version: str = LATEST_AGENT  # the extension handler actually running
    agent_broken: bool = False  # agent down for reasons outside the model (never Ready)
    running: bool = True  # False while the VM is stopped or deallocated
    rebooting: bool = False
    reboot_requested: bool = False  # set by a script; the sandbox reboots the VM after it
    boot_count: int = 1
    files: dict[str, str] = field(default_factory=dict)  # includes /etc/os-release
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending_on_boot: dict[str, Any] = field(default_factory=dict)  # attr -> value at next boot
    extra: dict[str, Any] = field(default_factory=dict)  # OS-specific state for handlers
    # Run Command: RunCommandLinux's sequence number (its download/<seq>/ folders), and the
    # VM's managed run command resources (arm_managed_runcommand.py), lower name -> resource.
    run_command_seq: int = 0
    run_commands: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---- derived state
    @property
    def os_release(self) -> str:
        return self.files.get("/etc/os-release", "")

    @property
    def autoupdate(self) -> bool:
        """AutoUpdate.Enabled from waagent.conf; commented out or absent means the default, y."""
        value = "y"
        for line in self.files.get(WAAGENT_CONF, "").splitlines():
            match = re.match(r"\s*AutoUpdate\.Enabled\s*=\s*(\S+)", line)
            if match:
                value = match.group(1)
        return value.lower().startswith("y")

    @autoupdate.setter
    def autoupdate(self, on: bool) -> None:
        text = self.files.get(WAAGENT_CONF, "")
        line = f"AutoUpdate.Enabled={'y' if on else 'n'}"
        new, count = re.subn(r"(?m)^\s*AutoUpdate\.Enabled\s*=.*$", line, text)
        self.files[WAAGENT_CONF] = new if count else text + line + "\n"

    def daemon_loops(self) -> bool:
        """RHEL 9.5/9.6 with the 2.7.0.6 daemon loops under FIPS unless worked around
        (telemetry call commented out, or an existing Certificates.pem)."""
        if not self.fips_enabled or self.daemon_version != "2.7.0.6" or CERTS_PEM in self.files:
            return False
        main = self.files.get(RHEL9_DAEMON_MAIN, "")
        return re.search(r"(?m)^\s+self\._initialize_telemetry\(\)", main) is not None

    def agent_problem(self) -> str | None:
        """Why the agent is Not Ready, or None when it is Ready."""
        if not self.running:
            return "the VM is not running"
        if self.rebooting:
            return "the VM is rebooting"
        if self.agent_broken:
            return "VM Agent is unresponsive."
        if self.daemon_loops():
            return "waagent daemon 2.7.0.6 restarts in a loop under FIPS (telemetry init)"
        return None

    def agent_ready(self) -> bool:
        return self.agent_problem() is None

    def agent_supports_fips(self) -> bool:
        return version_tuple(self.goal_state_version) >= version_tuple(FIPS_AGENT_MIN)

    # ---- lifecycle, called by the sandbox
    def request_reboot(self) -> None:
        self.reboot_requested = True

    def shutdown(self) -> None:
        self.running = False
        self.rebooting = False
        self.reboot_requested = False

    def boot(self) -> None:
        """Power-on or end of a reboot: apply what waited for a reboot, restart the agent."""
        for name, value in self.pending_on_boot.items():
            setattr(self, name, value)
        self.pending_on_boot.clear()
        self.running, self.rebooting, self.reboot_requested = True, False, False
        self.boot_count += 1
        self.restart_agent()

    def restart_agent(self) -> None:
        if self.autoupdate and version_tuple(self.goal_state_version) < version_tuple(LATEST_AGENT):
            self.goal_state_version = LATEST_AGENT

    # ---- files
    def read_file(self, path: str) -> str | None:
        if path == "/proc/sys/crypto/fips_enabled":
            return "1\n" if self.fips_enabled else "0\n"
        if path == "/usr/lib/os-release" and path not in self.files:
            path = "/etc/os-release"
        return self.files.get(path)

    def write_file(self, path: str, text: str) -> None:
        self.files[path] = text

    def remove_tree(self, folder: str) -> None:
        """rm -rf: every file under `folder`."""
        prefix = folder.rstrip("/") + "/"
        for path in [p for p in self.files if p.startswith(prefix)]:
            del self.files[path]

    @property
    def agent_os_name(self) -> str:
        """The distro name the agent reports (instance view osName, `waagent --version`)."""
        return {"rhel": "redhat"}.get(self.distro_id, self.distro_id)

    def waagent_version_text(self) -> str:
        return (
            f"WALinuxAgent-{self.daemon_version} running on {self.agent_os_name} "
            f"{self.distro_version}\nPython: 3.9.21\nGoal state agent: "
            f"{self.goal_state_version}\n"
        )

    # ---- scripts
    def run_script(self, script: str, params: Mapping[str, str]) -> ScriptResult:
        name = script_name(script)
        if name is None:
            return self._fallback(script)
        if name.startswith(BATCH_PREFIX):  # several scripts in one (fipswizard/guest/batch.py)
            from fipswizard.sandbox.guest_batch import run_batch

            return run_batch(self, script, params)
        handler = find_handler(name, self.distro_id)
        if handler is None:
            return 127, "", f"{NO_HANDLER} '{name}' on {self.distro_id}\n"
        try:
            return handler(self, script, params)
        except Exception as exc:  # the simulated cloud must survive a broken handler
            where = traceback.extract_tb(exc.__traceback__)[-1]
            return 1, "", f"sandbox: handler '{name}' crashed: {exc!r} at {where.name}\n"

    def _fallback(self, script: str) -> ScriptResult:
        commands: list[list[str]] = []
        for line in script.splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            try:
                words = shlex.split(stripped)
            except ValueError:
                return 127, "", f"{NO_HANDLER}\n"
            if words[0] == "set" or words in (["true"], [":"]):
                continue
            if not _fallback_understands(words):
                return 127, "", f"{NO_HANDLER}\n"
            commands.append(words)
        rc, out, err = 0, [], []
        for words in commands:
            if words[0] == "cat":
                for path in words[1:]:
                    text = self.read_file(path)
                    if text is None:
                        rc = 1
                        err.append(f"cat: {path}: No such file or directory\n")
                    else:
                        out.append(text)
            elif words[0] == "uname":
                out.append(self.kernel + "\n")
            elif words[0] == "waagent":
                out.append(self.waagent_version_text())
            else:
                out.append(" ".join(words[1:]) + "\n")
        return rc, "".join(out), "".join(err)

    def snapshot(self) -> dict[str, Any]:
        return {
            "distro_id": self.distro_id,
            "distro_version": self.distro_version,
            "kernel": self.kernel,
            "fips_enabled": self.fips_enabled,
            "daemon_version": self.daemon_version,
            "goal_state_version": self.goal_state_version,
            "autoupdate": self.autoupdate,
            "agent_ready": self.agent_ready(),
            "agent_problem": self.agent_problem(),
            "running": self.running,
            "rebooting": self.rebooting,
            "boot_count": self.boot_count,
            "users": {name: dict(info) for name, info in self.users.items()},
            "pending_on_boot": dict(self.pending_on_boot),
            "extra": dict(self.extra),
            "files": dict(self.files),
            # names only: protected parameters are never shown (and gone once the script ran)
            "run_commands": sorted(rc.name for rc in self.run_commands.values()),
        }


def _fallback_understands(words: list[str]) -> bool:
    if words[0] == "cat":
        return len(words) > 1 and not any(w.startswith("-") for w in words[1:])
    if words[0] == "uname":
        return words[1:] == ["-r"]
    if words[0] == "waagent":
        return words[1:] in (["--version"], ["-version"])
    return words[0] == "echo"
