"""What the evidence is about: a journal (the run's recipe, run id, correlation ids, the steps
it recorded per VM and the ARM request ids of their writes) or a recipe (the VMs only)."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fipswizard.evidence.bundle import RunInfo, utc
from fipswizard.recipe import Recipe, load_recipe

JOURNAL_SUFFIX = ".jsonl"


def load_source(path: str) -> tuple[Recipe, RunInfo, dict[str, list[dict[str, Any]]]]:
    """(recipe, run info, target key -> step records). A `.jsonl` file is a journal."""
    if not path.endswith(JOURNAL_SUFFIX):
        return load_recipe(path), RunInfo(f"recipe {Path(path).name}", "none", ()), {}
    from fipswizard.engine.journal import Journal
    from fipswizard.session import journal_recipe

    journal = Journal(path)
    records = journal.records()
    recipe = journal_recipe(journal)
    runs = [r for r in records if r.get("event") == "run-start"]
    steps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        if r.get("status") == "not-run":
            continue  # a batch stopped before it; the step's own attempt follows
        if r.get("event") in ("step-end", "step-skip") and r.get("target"):
            steps[str(r["target"])].append(
                {
                    "run": str(r.get("run", "")),
                    "step_id": str(r.get("step_id", "")),
                    "status": str(r.get("status", "skipped")),
                    "at": _ts(r.get("ts")),
                    # ARM's request ids of the step's writes (absent in older journals)
                    "arm_requests": _requests(r.get("arm_requests")),
                }
            )
    run = RunInfo(
        f"journal {Path(path).name}",
        str(runs[-1].get("run", "")) if runs else "none",
        tuple(
            dict.fromkeys(str(r.get("correlation_id", "")) for r in runs if r.get("correlation_id"))
        ),
    )
    return recipe, run, dict(steps)


def _ts(value: object) -> str:
    if isinstance(value, int | float):
        return utc(datetime.fromtimestamp(value, UTC))
    return str(value or "")


def _requests(value: object) -> list[dict[str, str]]:
    """The journalled writes, each as method, path, status and x-ms-request-id (strings)."""
    if not isinstance(value, list):
        return []
    keys = ("method", "path", "status", "request_id")
    return [{k: str(w.get(k, "")) for k in keys} for w in value if isinstance(w, dict)]
