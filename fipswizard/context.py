"""What a step sees while it runs: the target, the ARM client, the guest runner, settings."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from fipswizard.engine.prompter import Prompter
from fipswizard.secrets import Secret
from fipswizard.versions import COMPUTE_API, MIN_AGENT

if TYPE_CHECKING:
    from fipswizard.azure.arm import ArmClient


@dataclass(frozen=True)
class Target:
    """One VM. `key` names it everywhere (events, journal, summary)."""

    subscription: str
    resource_group: str
    vm: str
    cloud: str = "AzureCloud"

    @property
    def key(self) -> str:
        return f"{self.subscription}/{self.resource_group}/{self.vm}"

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
    progress: Callable[[str], None] = lambda _text: None
    # Steps wait (agent, reboot, feature registration) on these, as ArmClient does on its own:
    # tests inject a virtual clock so a five-minute wait takes no wall-clock time.
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # A wait's line with how far it is (text, seconds waited, seconds it may take): the engine
    # turns it into a typed fraction; without it the line goes to `progress`.
    wait_progress: Callable[[str, float, float], None] | None = None

    # A preflight finding (level, code, text): the engine emits it as a typed event.
    on_finding: Callable[[str, str, str], None] | None = None

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

    def need_runner(self) -> ScriptRunner:
        if self.runner is None:
            raise RuntimeError("this step needs a guest script runner")
        return self.runner
