"""The evidence document and the bundle on disk.

Layout (evidence reference, section 6): report.md, report.html, evidence.json,
oscal/assessment-results.json (+ the assessment-plan.json it imports), cmvp/catalog.json,
vms/<vm>/{summary.json, vm-model.json, probe.txt}, manifest.json, SHA256SUMS (GNU coreutils
format "<hex>  <path>", every file but itself). Every text is redacted before it is hashed and
written, so SHA256SUMS verifies what is on disk. JSON is written with sorted keys and LF.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fipswizard import __version__
from fipswizard.errors import BadInput
from fipswizard.evidence.assess import VmAssessment
from fipswizard.evidence.catalog import Catalog
from fipswizard.evidence.collect import Fleet
from fipswizard.evidence.oscal import assessment_plan, assessment_results
from fipswizard.evidence.render import render_html, render_markdown
from fipswizard.files import ensure_private_dir, write_private_text
from fipswizard.secrets import redact

SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
MEDIA = {".json": "application/json", ".md": "text/markdown", ".html": "text/html"}


@dataclass(frozen=True)
class RunInfo:
    source: str  # "journal <name>" or "recipe <name>"
    run_id: str
    correlation_ids: tuple[str, ...]


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def evidence_document(
    fleet: Fleet,
    assessed: list[VmAssessment],
    catalog: Catalog,
    run: RunInfo,
    *,
    generated_at: datetime,
    today: date,
) -> dict[str, Any]:
    vms = []
    for a in assessed:
        ev = a.ev
        cp: dict[str, Any] = {}
        if ev.error is None:
            cp = {**ev.facts, "api_version": ev.api_version, "region": ev.region,
                  "region_detail": ev.region_detail}  # fmt: skip
        vms.append(
            {
                "id": ev.target.vm_path,
                "name": ev.name,
                "subscription": ev.target.subscription,
                "resource_group": ev.target.resource_group,
                "control_plane": cp,
                "extensions": ev.extensions,
                "error": ev.error,
                "guest": ev.guest.to_dict() if ev.guest else None,
                "guest_error": ev.guest_error,
                "claim_level": a.level if ev.guest else None,
                "claim_label": a.label,
                "modules": [c.to_dict() for c in a.claims],
                "checks": [c.to_dict() for c in a.checks],
                "run_steps": a.run_steps,
            }
        )
    return {
        "tool": {"name": "fipswizard", "version": __version__},
        "generated_at": utc(generated_at),
        "evidence_date": today.isoformat(),
        "catalog": {"snapshot": catalog.snapshot, "source": catalog.source},
        "run": {
            "source": run.source,
            "id": run.run_id,
            "correlation_ids": list(run.correlation_ids),
        },
        "subscriptions": [vars(s) for _, s in sorted(fleet.subscriptions.items())],
        "vms": vms,
    }


def bundle_files(evidence: dict[str, Any], fleet: Fleet, catalog: Catalog) -> dict[str, str]:
    """Relative path -> text of every file but OSCAL, manifest.json and SHA256SUMS."""
    report = render_markdown(evidence)
    files = {
        "report.md": report,
        "report.html": render_html(report),
        "evidence.json": dumps(evidence),
        "cmvp/catalog.json": dumps(
            {
                "snapshot": catalog.snapshot,
                "source": catalog.source,
                "rows": [r.to_dict() for r in catalog.rows],
            }
        ),
    }
    by_name = {ev.name: ev for ev in fleet.vms}
    for vm in evidence["vms"]:
        ev = by_name[vm["name"]]
        base = f"vms/{vm['name']}"
        files[f"{base}/summary.json"] = dumps(vm)
        if ev.model is not None:
            files[f"{base}/vm-model.json"] = dumps(ev.model)
        if ev.probe_stdout:
            files[f"{base}/probe.txt"] = ev.probe_stdout
    return {path: redact(text) for path, text in files.items()}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_output_dir(out: Path) -> None:
    """Never overwrite what fipswizard did not write: DIR must be new, empty, or a bundle."""
    if out.exists() and not out.is_dir():
        raise BadInput(f"{out}: exists and is not a folder; choose a new folder for -o")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise BadInput(
            f"{out}: the folder is not empty and holds no evidence bundle ({MANIFEST}); "
            "choose a new or empty folder for -o"
        )


def write_bundle(
    out: Path, evidence: dict[str, Any], fleet: Fleet, catalog: Catalog
) -> dict[str, str]:
    """Write the bundle under `out`; returns path -> SHA-256 of every file but SHA256SUMS."""
    check_output_dir(out)
    files = bundle_files(evidence, fleet, catalog)
    hashes = {path: sha256(text) for path, text in files.items()}
    for path, doc in (
        ("oscal/assessment-results.json", assessment_results(evidence, hashes)),
        ("oscal/assessment-plan.json", assessment_plan(evidence)),
    ):
        files[path] = redact(dumps(doc))
        hashes[path] = sha256(files[path])
    manifest = {
        "tool": evidence["tool"],
        "run": evidence["run"],
        "generated_at": evidence["generated_at"],
        "cmvp_catalog": evidence["catalog"],
        "redaction": "known secret values replaced by *** and osProfile secrets, customData, "
        "userData and extension settings removed, before hashing",
        "files": [
            {
                "path": path,
                "sha256": hashes[path],
                "bytes": len(files[path].encode("utf-8")),
                "media_type": MEDIA.get(Path(path).suffix, "text/plain"),
            }
            for path in sorted(files)
        ],
    }
    files[MANIFEST] = redact(dumps(manifest))
    hashes[MANIFEST] = sha256(files[MANIFEST])
    ensure_private_dir(out)
    for path, text in sorted(files.items()):
        write_private_text(out / path, text, what="evidence file")
    sums = "".join(f"{hashes[p]}  {p}\n" for p in sorted(files))
    write_private_text(out / SUMS, sums, what="evidence file")
    return hashes
