"""What a step sees while it runs: the target, the ARM client, the guest runner, settings."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from fipswizard.engine.prompter import Prompter
from fipswizard.secrets import Secret
from fipswizard.versions import COMPUTE_API, MIN_AGENT

if TYPE_CHECKING:
    from fipswizard.azure.arm import ArmClient
    from fipswizard.engine.steps import Step


_SUBSCRIPTION = "subscription:"  # the prefix of a subscription's unit (feature registration)
_ARM_ID = ["subscriptions", "resourcegroups", "providers", "microsoft.compute", "virtualmachines"]


# The ARM writes of the step being run: method, path, status and ARM's x-ms-request-id (what the
# Activity Log is searched by). The engine sets a list per step, the ARM client appends to it,
# and the step's journal end records it, so the evidence names the request ids of every write.
ARM_WRITES: ContextVar[list[dict[str, object]] | None] = ContextVar(
    "fipswizard_arm_writes", default=None
)


async def wall_sleep(seconds: float) -> None:
    """`asyncio.sleep`, with asyncio imported at the first wait: a wait is I/O, and paths that
    do none (`--help`, `plan --offline`) never load asyncio."""
    import asyncio

    await asyncio.sleep(seconds)


@dataclass(frozen=True)
class TargetKey:
    """A unit's identity, typed: a VM (subscription, resource group, VM name) or, with no VM,
    a subscription's unit. `str(key)` is the text form that events, the journal and the
    summary carry ("sub/rg/vm", "subscription:sub"); `parse` is the one place that text is
    read back, so no other module splits a key."""

    subscription: str
    resource_group: str = ""
    vm: str = ""

    @classmethod
    def parse(cls, key: str) -> TargetKey:
        """The key text back as fields; a text of neither form is kept whole as the name, so a
        label never fails on an unexpected key (an old journal, a test's own key)."""
        if not key:
            return cls("")
        if key.startswith(_SUBSCRIPTION):
            return cls(key[len(_SUBSCRIPTION) :])
        parts = key.split("/")
        if len(parts) == 3 and all(parts):
            return cls(parts[0], parts[1], parts[2])
        # A VM's ARM resource id names the same VM (segment names are case-insensitive in ARM:
        # /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.Compute/virtualMachines/{vm})
        arm = key.strip("/").split("/")
        if len(arm) == 8 and all(arm) and [arm[n].lower() for n in (0, 2, 4, 5, 6)] == _ARM_ID:
            return cls(arm[1], arm[3], arm[7])
        return cls("", "", key)

    @classmethod
    def for_subscription(cls, subscription: str) -> TargetKey:
        return cls(subscription)

    @property
    def is_vm(self) -> bool:
        return bool(self.vm)

    @property
    def is_full_vm(self) -> bool:
        """A VM key with subscription and resource group: one Azure can address."""
        return bool(self.vm and self.subscription and self.resource_group)

    @property
    def name(self) -> str:
        """How a person reads it: the VM name, or a short subscription id."""
        if self.vm or not self.subscription:
            return self.vm
        return f"subscription {self.subscription[:8]}…"

    def __str__(self) -> str:
        if not self.vm:
            if not self.subscription:
                return ""
            return _SUBSCRIPTION + self.subscription
        if not (self.subscription and self.resource_group):
            return self.vm
        return f"{self.subscription}/{self.resource_group}/{self.vm}"


def key_name(key: str) -> str:
    """The name a person reads for a key text (VM name or short subscription id)."""
    return TargetKey.parse(key).name


@dataclass(frozen=True)
class Target:
    """One VM. `key` names it everywhere (events, journal, summary); `target_key` is the same
    identity typed."""

    subscription: str
    resource_group: str
    vm: str
    cloud: str = "AzureCloud"

    @classmethod
    def from_key(cls, key: str | TargetKey, cloud: str = "AzureCloud") -> Target | None:
        """The VM a key names, or None for a subscription's unit or a key Azure cannot address."""
        typed = TargetKey.parse(key) if isinstance(key, str) else key
        if not typed.is_full_vm:
            return None
        return cls(typed.subscription, typed.resource_group, typed.vm, cloud)

    @property
    def target_key(self) -> TargetKey:
        return TargetKey(self.subscription, self.resource_group, self.vm)

    @property
    def key(self) -> str:
        return str(self.target_key)

    @property
    def vm_path(self) -> str:
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"
            f"/providers/Microsoft.Compute/virtualMachines/{self.vm}"
        )


@dataclass(frozen=True)
class ScriptResult:
    rc: int
    stdout: str
    stderr: str


class ScriptRunner(Protocol):
    """Runs one guest script text: Run Command (remote), local bash, or a bubblewrap fake root."""

    name: str

    async def run(
        self,
        script: str,
        *,
        env: Mapping[str, Secret] | None = None,
        timeout: float = 900,
        read_only: bool = False,
        progress: Callable[[str], None] | None = None,
    ) -> ScriptResult:
        """`read_only` scripts change nothing, so a runner may send them again after a 5xx or
        a dropped connection; any other script is never resent once Azure may have it.
        `progress` receives waiting lines (e.g. another Run Command still running)."""
        ...


@dataclass(frozen=True)
class Settings:
    compute_api: str = COMPUTE_API
    features_api: str = "2021-07-01"
    resources_api: str = "2025-04-01"
    feature_name: str = "OptInToFips1403Compliance"
    feature_timeout: float = 3600.0  # registration can take hours: resume later
    feature_poll: float = 10.0
    reboot_timeout: float = 900.0
    agent_wait: float = 300.0  # how long a Not Ready agent may take before we give up
    agent_poll: float = 10.0
    min_agent: str = MIN_AGENT


@dataclass(frozen=True)
class Context:
    prompter: Prompter
    settings: Settings = field(default_factory=Settings)
    arm: ArmClient | None = None
    runner: ScriptRunner | None = None
    target: Target | None = None
    secrets: Mapping[str, Secret] = field(default_factory=dict)
    # The (target, step id) keys the operator approved before the first write: a step that
    # may act "if needed" (the rollback's reboot) reads its answer here, never asks mid-run.
    approved: frozenset[tuple[str, str]] = frozenset()
    progress: Callable[[str], None] = lambda _text: None
    # Steps wait (agent, reboot, feature registration) on these, as ArmClient does on its own:
    # tests inject a virtual clock so a five-minute wait takes no wall-clock time.
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = wall_sleep
    # A wait's line with how far it is (text, seconds waited, seconds it may take): the engine
    # turns it into a typed fraction; without it the line goes to `progress`.
    wait_progress: Callable[[str, float, float], None] | None = None

    # A preflight finding (level, code, text): the engine emits it as a typed event.
    on_finding: Callable[[str, str, str], None] | None = None
    # The unit's steps, and the answers of read-only guest scripts that an earlier Run Command
    # of this unit ran ahead (script text -> result). The engine binds one dict per unit and
    # empties it before every write that may change the guest (`Step.changes_guest`).
    unit_steps: tuple[Step, ...] = ()
    reads: dict[str, ScriptResult] | None = None

    def found(self, level: str, code: str, text: str) -> None:
        if self.on_finding is None:
            self.progress(f"preflight {level}: {text}")
        else:
            self.on_finding(level, code, text)

    def waiting(self, text: str, waited: float, total: float) -> None:
        if self.wait_progress is None:
            self.progress(text)
        else:
            self.wait_progress(text, waited, total)

    def bind(self, **changes: object) -> Context:
        return replace(self, **changes)  # type: ignore[arg-type]

    def need_arm(self) -> ArmClient:
        if self.arm is None:
            raise RuntimeError("this step needs the ARM client (not available offline)")
        return self.arm

    async def run_read(self, script: str, timeout: float = 900) -> ScriptResult:
        """Run a read-only guest script, or take the answer a batch read ahead for it."""
        if self.reads is not None and script in self.reads:
            return self.reads[script]
        return await self.need_runner().run(
            script, timeout=timeout, read_only=True, progress=self.progress
        )

    def need_runner(self) -> ScriptRunner:
        if self.runner is None:
            raise RuntimeError("this step needs a guest script runner")
        return self.runner
