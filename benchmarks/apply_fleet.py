"""A fleet `apply` against the sandbox with writes throttled to 10 per second per subscription.

Prints the wall time against the throttling bound (successful writes / (rate x subscriptions);
goal: at most 1.15 times it; also against the stricter bound that counts each subscription's
initial burst as free), the requests per VM by kind (goal: none that isn't needed) and the
peak RSS (goal: under 150 MB). Without --concurrency the run picks its own (the default,
fipswizard/session.py default_concurrency), as an operator's run would.
Run: python benchmarks/apply_fleet.py [--vms 1000] [--subscriptions 5] [--validate]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from fipswizard.context import Settings, Target
from fipswizard.engine.prompter import HeadlessPrompter
from fipswizard.recipe import Recipe, RecipeTarget
from fipswizard.sandbox import BucketSpec, Estate, SandboxAzure, bench_estate, start_in_thread
from fipswizard.sandbox.model import FIPS_FEATURE, NEVER, Feature, Subscription
from fipswizard.session import Options, default_concurrency, run_apply


def fleet_estate(vms: int, subscriptions: int) -> Estate:
    """bench_estate's VMs dealt round-robin over `subscriptions` subscriptions, each with its
    own write budget (ARM throttles per subscription) and the feature Registered."""
    estate = bench_estate(vms)
    if subscriptions == 1:
        return estate
    spread = Estate()
    subs = [f"99999999-0000-1111-2222-{i:012d}" for i in range(1, subscriptions + 1)]
    for sub in subs:
        added = spread.add_subscription(Subscription(sub, f"fips-bench-{sub[-2:]}"))
        added.add_feature(Feature(FIPS_FEATURE, "Registered", registered_at=NEVER))
    for i, vm in enumerate(estate.vms.values()):
        spread.add_vm(replace(vm, subscription=subs[i % subscriptions]))
    return spread


def peak_rss_mb() -> float:
    """Peak resident set of this process (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


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


async def main(
    vms: int, subscriptions: int, rate: float, burst: float, validate: bool, concurrency: int | None
) -> None:
    sandbox = SandboxAzure(
        fleet_estate(vms, subscriptions),
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
    recipe = Recipe(targets=targets, validate=validate)
    chosen = concurrency or default_concurrency(recipe)
    settings = replace(Settings(), feature_poll=0.5, agent_poll=0.5)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = await run_apply(
            recipe,
            Options(arm_endpoint=url, settings=settings, concurrency=concurrency),
            HeadlessPrompter(True),
            Path(tmp) / "j.jsonl",
            lambda e: None,
        )
        wall = time.perf_counter() - start
    stop()
    log = sandbox.log.entries()
    writes = [e for e in log if e["write"] and int(e["status"]) < 400]
    # The bound: writes needed / rate, each subscription having its own budget (the
    # busiest subscription sets it when the VMs are not dealt evenly).
    per_sub = collections.Counter(str(e["path"]).split("/")[2] for e in writes)
    bound = max(per_sub.values()) / rate
    strict = max(max(per_sub.values()) - burst, 1) / rate  # stricter: the initial burst is free
    how = "set by --concurrency" if concurrency else "the default"
    print(
        f"{vms} VMs over {subscriptions} subscription(s), writes throttled to {rate:g}/s "
        f"(burst {burst:g}) per subscription, concurrency {chosen} ({how}), "
        f"validation {'on' if validate else 'off'}"
    )
    compliant = sum(t.outcome == "compliant" for t in summary.targets.values())
    print(f"  compliant: {compliant - subscriptions} of {vms}")  # not the subscription targets
    print(f"  successful writes: {len(writes)}; wall {wall:.1f} s")
    t0 = float(log[0]["t"])  # type: ignore[arg-type]
    first, last = (float(writes[i]["t"]) - t0 for i in (0, -1))  # type: ignore[arg-type]
    print(f"  first write at {first:.1f} s (discovery and plan), last write at {last:.1f} s")
    print(
        f"  throttling bound (writes / rate) {bound:.1f} s: ratio {wall / bound:.2f} (goal <= 1.15)"
    )
    print(f"  stricter bound ((writes - burst) / rate) {strict:.1f} s: ratio {wall / strict:.2f}")
    counts = collections.Counter(kind(e) for e in log)
    print(f"  requests per VM: {len(log) / vms:.2f} in all")
    for name, n in sorted(counts.items()):
        print(f"    {name:<22} {n / vms:6.2f}")
    print(f"  peak RSS {peak_rss_mb():.0f} MB (goal < 150; client and sandbox in one process)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--vms", type=int, default=1000)
    p.add_argument("--subscriptions", type=int, default=5)
    p.add_argument("--rate", type=float, default=10.0)
    p.add_argument("--burst", type=float, default=10.0)
    p.add_argument("--concurrency", type=int, default=None, help="default: the run's own choice")
    p.add_argument("--validate", action="store_true", help="also run the extension validation")
    a = p.parse_args()
    asyncio.run(main(a.vms, a.subscriptions, a.rate, a.burst, a.validate, a.concurrency))
