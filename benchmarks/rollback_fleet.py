"""`rollback` of a 200-VM journal against the sandbox, next to the `apply` that wrote it.

Rollback runs VMs concurrently under the recipe's concurrency bound, like apply (each VM's
undos still in order). Prints both wall times and their ratio (goal: rollback within 1.5x
apply's wall time for the same VMs).
Run: python benchmarks/rollback_fleet.py [--vms 200] [--concurrency 32] [--validate]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from fipswizard.context import Settings, Target
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import SandboxAzure, bench_estate, start_in_thread
from fipswizard.session import Options, run_apply, run_rollback


async def main(vms: int, concurrency: int, validate: bool) -> None:
    sandbox = SandboxAzure(bench_estate(vms), op_seconds=0.5)
    url, stop = start_in_thread(sandbox)
    os.environ["FIPSWIZARD_ACCESS_TOKEN"] = "benchmark-token"
    targets = tuple(
        RecipeTarget(Target(v.subscription, v.resource_group, v.name), "none")
        for v in sandbox.estate.vms.values()
    )
    recipe = Recipe(targets=targets, concurrency=concurrency, validate=validate)
    opts = Options(arm_endpoint=url, settings=replace(Settings(), feature_poll=0.5, agent_poll=0.5))
    with tempfile.TemporaryDirectory() as tmp:
        journal = Path(tmp) / "j.jsonl"
        start = time.perf_counter()
        applied = await run_apply(recipe, opts, HeadlessPrompter(True), journal, lambda e: None)
        apply_wall = time.perf_counter() - start
        start = time.perf_counter()
        back = await run_rollback(journal, opts, HeadlessPrompter(True), lambda e: None)
        rollback_wall = time.perf_counter() - start
    stop()
    compliant = sum(str(t.outcome) == "compliant" for t in applied.targets.values()) - 1
    rolled = sum(str(t.outcome) == "rolled back" for t in back.targets.values())
    print(
        f"{vms} VMs, concurrency {concurrency}, validation {'on' if validate else 'off'}, "
        "sandbox operations 0.5 s"
    )
    print(f"  apply:    {apply_wall:6.1f} s ({compliant} of {vms} compliant)")
    print(f"  rollback: {rollback_wall:6.1f} s ({rolled} of {vms} rolled back)")
    print(f"  ratio rollback / apply: {rollback_wall / apply_wall:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vms", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--validate", action="store_true", help="also run the extension validation")
    a = p.parse_args()
    asyncio.run(main(a.vms, a.concurrency, a.validate))
