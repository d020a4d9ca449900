"""Collect, assess and write an evidence bundle; and the read-only fleet read behind `status`.
Both front ends call these (the headless `evidence`/`status` commands, the TUI summary)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from fipswizard.evidence.assess import VmAssessment, assess_vm
from fipswizard.evidence.bundle import check_output_dir, evidence_document, write_bundle
from fipswizard.evidence.catalog import load_catalog
from fipswizard.evidence.collect import Fleet, collect
from fipswizard.evidence.source import load_source
from fipswizard.recipe import Recipe
from fipswizard.session import (
    Options,
    default_concurrency,
    for_recipe,
    make_arm,
    make_cloud,
    new_ids,
)


async def read_fleet(recipe: Recipe, opts: Options, *, guest: bool) -> Fleet:
    """GETs only, plus (with `guest`) the one read-only probe per VM."""
    opts = for_recipe(opts, recipe)
    _, correlation_id = new_ids()
    cloud = make_cloud(recipe, opts)
    async with make_arm(cloud, correlation_id, opts) as arm:
        return await collect(
            recipe,
            arm,
            opts.settings,
            guest=guest,
            concurrency=opts.concurrency or recipe.concurrency or default_concurrency(recipe),
        )


async def make_evidence(
    source: str,
    out: Path,
    opts: Options,
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> tuple[dict[str, Any], list[VmAssessment]]:
    """Write the bundle for a journal or recipe at `source` under `out`. `today` (the date
    claim levels are computed for) defaults to the date of `now`, the collection time."""
    recipe, run, steps = load_source(source)
    check_output_dir(out)  # before any request: a refused folder costs nothing
    fleet = await read_fleet(recipe, opts, guest=True)
    moment = now or datetime.now(UTC)
    day = today or moment.date()
    catalog = load_catalog()
    assessed = [
        assess_vm(
            ev, fleet.subscriptions.get(ev.target.subscription), catalog, day,
            steps.get(ev.target.key),
        )
        for ev in fleet.vms
    ]  # fmt: skip
    doc = evidence_document(fleet, assessed, catalog, run, generated_at=moment, today=day)
    write_bundle(out, doc, fleet, catalog)
    return doc, assessed
