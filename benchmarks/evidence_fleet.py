"""`evidence` for a 200-VM fleet against the sandbox: wall time and Run Commands per VM
(goal: one, the read-only probe; no other write at all).
Run: python benchmarks/evidence_fleet.py [--vms 200] [--concurrency 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from fipswizard.context import Target
from fipswizard.evidence.make import make_evidence
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe
from fipswizard.sandbox import BucketSpec, SandboxAzure, bench_estate, start_in_thread
from fipswizard.session import Options


async def main(vms: int, concurrency: int) -> None:
    sandbox = SandboxAzure(
        bench_estate(vms),
        op_seconds=0.5,
        reads=BucketSpec(burst=100_000, rate=100_000),
        writes=BucketSpec(burst=100_000, rate=100_000),
    )
    url, stop = start_in_thread(sandbox)
    os.environ["FIPSWIZARD_ACCESS_TOKEN"] = "benchmark-token"
    targets = tuple(
        RecipeTarget(Target(v.subscription, v.resource_group, v.name), "none")
        for v in sandbox.estate.vms.values()
    )
    with tempfile.TemporaryDirectory() as tmp:
        recipe_path = Path(tmp) / "fleet.toml"
        recipe_path.write_text(dump_recipe(Recipe(targets=targets, concurrency=concurrency)))
        start = time.perf_counter()
        doc, _ = await make_evidence(
            str(recipe_path), Path(tmp) / "bundle", Options(arm_endpoint=url)
        )
        wall = time.perf_counter() - start
    stop()
    log = sandbox.log.entries()
    run_commands = [e for e in log if str(e["path"]).endswith("/runCommand")]
    other_writes = [e for e in log if e["write"] and e not in run_commands]
    probed = sum(vm["guest"] is not None for vm in doc["vms"])
    print(f"{vms} VMs, concurrency {concurrency}: wall {wall:.1f} s, guests probed {probed}")
    print(f"  Run Commands per VM: {len(run_commands) / vms:.2f} (goal 1.00)")
    print(f"  other writes: {len(other_writes)} (goal 0); requests per VM {len(log) / vms:.2f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vms", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=32)
    a = p.parse_args()
    asyncio.run(main(a.vms, a.concurrency))
