"""An OSCAL assessment-results document (and the minimal assessment plan it imports).

Shape from NIST's OSCAL metaschemas (usnistgov/OSCAL src/metaschema, v1.1.2): required
`import-ap`, `results[].reviewed-controls`, observations with `methods` and `collected`,
findings with a `target` (objective-id, status satisfied / not-satisfied). UUIDs are RFC 4122
v5 over stable keys (VM resource id + check id), so the same check keeps its id across bundles;
the document and result uuids are v5 over the run's identity and time.
"""

from __future__ import annotations

import uuid
from typing import Any

OSCAL_VERSION = "1.1.2"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/fipswizard/evidence")
PASSING = ("pass", "informational")


def uid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def assessment_results(evidence: dict[str, Any], files: dict[str, str]) -> dict[str, Any]:
    """`evidence` is evidence.json's content; `files` maps each relative path to its SHA-256."""
    run_key = f"{evidence['run']['id']}/{evidence['generated_at']}"
    meta = {
        "title": "FIPS 140-3 enablement evidence",
        "last-modified": evidence["generated_at"],
        "version": f"bundle-{evidence['generated_at']}",
        "oscal-version": OSCAL_VERSION,
    }
    items, observations, findings = [], [], []
    for vm in evidence["vms"]:
        item = uid(vm["id"])
        g = vm.get("guest") or {}
        props = [
            {"name": "asset-id", "value": vm["name"]},
            {"name": "asset-type", "value": "operating-system"},
            {"name": "virtual", "value": "yes"},
        ]
        if g.get("os_id"):
            props += [
                {"name": "os-name", "value": g["os_id"]},
                {"name": "os-version", "value": g.get("os_version") or "unknown"},
            ]
        items.append({"uuid": item, "description": f"Azure VM {vm['id']}", "props": props})
        for check in vm["checks"]:
            obs = uid(vm["id"], check["id"], "observation")
            raw = f"vms/{vm['name']}/summary.json"
            observations.append(
                {
                    "uuid": obs,
                    "title": check["title"],
                    "description": f"{check['observed']} (expected: {check['expected']}); "
                    f"collected by {check['how']}",
                    "methods": ["TEST"],
                    "types": ["control-objective"],
                    "subjects": [{"subject-uuid": item, "type": "inventory-item"}],
                    "relevant-evidence": [
                        {
                            "href": f"../{raw}",
                            "description": "Normalised facts; SHA-256 in SHA256SUMS",
                        }
                    ],
                    "collected": evidence["generated_at"],
                }
            )
            state = "satisfied" if check["result"] in PASSING else "not-satisfied"
            findings.append(
                {
                    "uuid": uid(vm["id"], check["id"]),
                    "title": f"{vm['name']}: {check['id']} {check['title']}",
                    "description": check["observed"]
                    + (f" {check['note']}" if check["note"] else ""),
                    "target": {
                        "type": "objective-id",
                        "target-id": "sc-13_obj",
                        "status": {"state": state},
                    },
                    "related-observations": [{"observation-uuid": obs}],
                }
            )
    resources = [
        {
            "uuid": uid("file", path),
            "title": path,
            "rlinks": [{"href": f"../{path}", "hashes": [{"algorithm": "SHA-256", "value": h}]}],
        }
        for path, h in sorted(files.items())
    ]
    result: dict[str, Any] = {
        "uuid": uid(run_key, "result"),
        "title": f"FIPS evidence collected {evidence['generated_at']}",
        "description": "Automated read-only collection of control-plane and guest facts, and "
        "the CMVP certificate status of each live cryptographic module.",
        "start": evidence["generated_at"],
        "reviewed-controls": {
            "control-selections": [
                {"include-controls": [{"control-id": "sc-13"}, {"control-id": "ia-7"}]}
            ]
        },
        "observations": observations,
        "findings": findings,
    }
    if items:
        result["local-definitions"] = {"inventory-items": items}
    doc: dict[str, Any] = {
        "uuid": uid(run_key, "assessment-results"),
        "metadata": meta,
        "import-ap": {"href": "./assessment-plan.json"},
        "results": [result],
    }
    if resources:
        doc["back-matter"] = {"resources": resources}
    return {"assessment-results": doc}


def assessment_plan(evidence: dict[str, Any]) -> dict[str, Any]:
    run_key = f"{evidence['run']['id']}/{evidence['generated_at']}"
    return {
        "assessment-plan": {
            "uuid": uid(run_key, "assessment-plan"),
            "metadata": {
                "title": "FIPS 140-3 enablement evidence plan",
                "last-modified": evidence["generated_at"],
                "version": f"bundle-{evidence['generated_at']}",
                "oscal-version": OSCAL_VERSION,
            },
            "import-ssp": {"href": "./system-security-plan.json"},
            "reviewed-controls": {
                "control-selections": [
                    {"include-controls": [{"control-id": "sc-13"}, {"control-id": "ia-7"}]}
                ]
            },
        }
    }
