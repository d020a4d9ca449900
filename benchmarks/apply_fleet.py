"""A 200-VM `apply` against the sandbox with writes throttled to 10 per second.

Prints the wall time against the throttling bound (successful writes / rate; goal: at most
1.15 times it; also against the stricter bound that counts the initial burst as free) and
the requests per VM by kind (goal: none that isn't needed).
Run: python benchmarks/apply_fleet.py [--vms 200] [--validate]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from fipswizard.context import Settings, Target
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import BucketSpec, SandboxAzure, bench_estate, start_in_thread
from fipswizard.session import Options, run_apply


def kind(entry: dict[str, object]) -> str:
    path, method, status = str(entry["path"]), str(entry["method"]), int(entry["status"])  # type: ignore[call-overload]
    if status == 429:
        return "throttled (429)"
    if "/operations/" in path:
        return "operation polls"
    if re.search(r"/features/[^/]+$", path):
        return "feature reads"
    what = "extension" if "/extensions/" in path else "vm" if "virtualMachines" in path else "other"
    return f"{method} {what}"


async def main(vms: int, rate: float, burst: float, validate: bool, concurrency: int) -> None:
    sandbox = SandboxAzure(
        bench_estate(vms),
        op_seconds=0.5,
        writes=BucketSpec(burst=burst, rate=rate),
        reads=BucketSpec(burst=100_000, rate=100_000),
    )
    url, stop = start_in_thread(sandbox)
    os.environ["FIPSWIZARD_ACCESS_TOKEN"] = "benchmark-token"
    targets = tuple(
        RecipeTarget(Target(v.subscription, v.resource_group, v.name), "none")
        for v in sandbox.estate.vms.values()
    )
    recipe = Recipe(targets=targets, concurrency=concurrency, validate=validate)
    settings = replace(Settings(), feature_poll=0.5, agent_poll=0.5)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = await run_apply(
            recipe,
            Options(arm_endpoint=url, settings=settings),
            HeadlessPrompter(True),
            Path(tmp) / "j.jsonl",
            lambda e: None,
        )
        wall = time.perf_counter() - start
    stop()
    log = sandbox.log.entries()
    writes = [e for e in log if e["write"] and int(e["status"]) < 400]
    bound = len(writes) / rate  # the bound: writes needed / rate
    strict = max(len(writes) - burst, 1) / rate  # stricter: the initial burst is free
    print(
        f"{vms} VMs, writes throttled to {rate:g}/s (burst {burst:g}), concurrency {concurrency}, "
        f"validation {'on' if validate else 'off'}"
    )
    print(
        f"  compliant: {sum(t.outcome == 'compliant' for t in summary.targets.values()) - 1} "
        f"of {vms}"
    )
    print(f"  successful writes: {len(writes)}; wall {wall:.1f} s")
    print(
        f"  throttling bound (writes / rate) {bound:.1f} s: ratio {wall / bound:.2f} (goal <= 1.15)"
    )
    print(f"  stricter bound ((writes - burst) / rate) {strict:.1f} s: ratio {wall / strict:.2f}")
    counts = collections.Counter(kind(e) for e in log)
    print(f"  requests per VM: {len(log) / vms:.2f} in all")
    for name, n in sorted(counts.items()):
        print(f"    {name:<22} {n / vms:6.2f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vms", type=int, default=200)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--burst", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--validate", action="store_true", help="also run the extension validation")
    a = p.parse_args()
    asyncio.run(main(a.vms, a.rate, a.burst, a.validate, a.concurrency))
