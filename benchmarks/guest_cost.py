"""What the guest work costs per VM, per recipe: Run Commands, ARM requests, writes and boot
cycles for a first apply, a re-run that changes nothing, and a rollback, against the sandbox;
and a first apply with the one-boot option (`reboot = "reallocate"`: one boot cycle, not two).

Also the projected wall time per VM at 20 s per Run Command (Microsoft: Run Command "can take
tens of seconds"; about 20 s is the best seen) and 90 s per boot cycle (a restart or a
deallocate + start). Issue 9; tests/test_guest_cost.py pins today's Run Command counts.
Run: python benchmarks/guest_cost.py
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fipswizard.context import Settings, Target
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, run_apply, run_rollback

# One demo VM per guest recipe (fipswizard/sandbox/estate.py), each picked by the probe.
VMS = {
    "ubuntu": "ubuntu2204-web",
    "rhel9": "rhel95-db",
    "alma92-tuxcare": "alma92-ledger",
    "flatcar": "flatcar-edge",
}
RUN_COMMAND_SECONDS, BOOT_SECONDS = 20.0, 90.0
FAST = Settings(feature_poll=0.05, agent_poll=0.05, agent_wait=1.0, reboot_timeout=30.0)


@dataclass(frozen=True)
class Cost:
    run_commands: int
    requests: int
    writes: int
    boots: int

    @property
    def projected(self) -> float:
        return self.run_commands * RUN_COMMAND_SECONDS + self.boots * BOOT_SECONDS


def is_run_command(entry: dict[str, Any]) -> bool:
    """A Run Command started: the action (POST .../runCommand) or a managed one (PUT
    .../runCommands/{name}); polls and result reads are not new Run Commands."""
    path, method = str(entry["path"]), entry["method"]
    if int(entry["status"]) >= 400:
        return False
    return (method == "POST" and path.endswith("/runCommand")) or (
        method == "PUT" and re.search(r"/runCommands/[^/]+$", path) is not None
    )


def is_boot(entry: dict[str, Any]) -> bool:
    """A boot cycle: a restart, or the start that ends a deallocate (or a stop)."""
    path = str(entry["path"])
    return (
        entry["method"] == "POST"
        and int(entry["status"]) < 400
        and (path.endswith("/restart") or path.endswith("/start"))
    )


def cost(log: list[dict[str, Any]]) -> Cost:
    return Cost(
        run_commands=sum(is_run_command(e) for e in log),
        requests=len(log),
        writes=sum(bool(e["write"]) for e in log),
        boots=sum(is_boot(e) for e in log),
    )


async def measure(recipe_name: str, workdir: Path, reboot: str = "restart") -> dict[str, Cost]:
    """First apply, re-run, rollback of the one demo VM that takes `recipe_name`; `reboot` is
    the recipe's choice of guest reboot (restart | reallocate)."""
    os.environ.setdefault("FIPSWIZARD_ACCESS_TOKEN", "guest-cost-token")
    os.environ.setdefault("FIPSWIZARD_TUXCARE_KEY", "guest-cost-tuxcare-key")
    os.environ.setdefault("FIPSWIZARD_PRO_TOKEN", "guest-cost-pro-token")
    sandbox = SandboxAzure(demo_estate(), op_seconds=0.05, registration_seconds=0.1)
    vm = sandbox.estate.vms[VMS[recipe_name]]
    opts = Options(
        arm_endpoint="https://management.azure.com", settings=FAST, transport=sandbox.transport()
    )
    target = RecipeTarget(Target(vm.subscription, vm.resource_group, vm.name), "auto")
    recipe = Recipe(targets=(target,), reboot=reboot)
    journal = workdir / f"{recipe_name}-{reboot}.jsonl"
    out: dict[str, Cost] = {}
    for phase in ("first apply", "re-run"):
        sandbox.log.clear()
        summary = await run_apply(recipe, opts, HeadlessPrompter(True), journal, lambda e: None)
        if not summary.ok:
            raise RuntimeError(f"{recipe_name} {phase} failed:\n{summary.to_text()}")
        out[phase] = cost(sandbox.log.entries())
    sandbox.log.clear()
    await run_rollback(journal, opts, HeadlessPrompter(True), lambda e: None)
    out["rollback"] = cost(sandbox.log.entries())
    return out


async def main() -> None:
    print(
        f"per VM; projected wall time at {RUN_COMMAND_SECONDS:g} s per Run Command and "
        f"{BOOT_SECONDS:g} s per boot cycle"
    )
    head = f"{'recipe':<16}{'phase':<24}{'Run Cmds':>9}{'requests':>10}{'writes':>8}{'boots':>7}"
    print(head + f"{'projected':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in VMS:
            costs = await measure(name, Path(tmp))
            one_boot = await measure(name, Path(tmp), reboot="reallocate")
            costs["first apply (one boot)"] = one_boot["first apply"]
            for phase, c in costs.items():
                print(
                    f"{name:<16}{phase:<24}{c.run_commands:>9}{c.requests:>10}{c.writes:>8}"
                    f"{c.boots:>7}{c.projected / 60:>9.1f} m"
                )


if __name__ == "__main__":
    asyncio.run(main())
