"""report.md and a self-contained report.html (inline CSS, no external asset) from the
evidence document. Layout after OpenSCAP's report and FedRAMP's Appendix Q module inventory
(module | version | CMVP # | standard | status | sunset | claim level)."""

from __future__ import annotations

import html
from typing import Any

WORDING = (
    "Wording follows FedRAMP's cryptographic module policy (FRR8): NIST terminology only, no "
    "loose or self-defined compliance terms. A module is called validated only where the dated "
    "CMVP catalog lists its exact version on an Active certificate; other builds of a validated "
    "module are an update stream of that certificate; anything else is FIPS mode only."
)
LEGEND = (
    ("validated", "the exact module version is on an Active CMVP certificate"),
    ("validated, interim", "as above, the certificate carries the Interim validation caveat"),
    ("update stream", "same module lineage, a version not on the certificate"),
    ("module in process", "no Active certificate; a Modules In Process entry names it"),
    ("historical", "only a Historical certificate, or its sunset date has passed"),
    ("none (FIPS mode only)", "no CMVP certificate covers the running module"),
)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return out


def _module_rows(evidence: dict[str, Any]) -> list[list[object]]:
    rows: list[list[object]] = []
    for vm in evidence["vms"]:
        for m in vm["modules"]:
            cert = m["certificate"] or {}
            number = cert.get("certificate") or ""
            days = m["days_to_sunset"]
            sunset = cert.get("sunset", "")
            rows.append(
                [
                    vm["name"],
                    m["observed_name"] or m["kind"],
                    m["observed_version"] or "unknown",
                    f"#{number}" if number else "none",
                    cert.get("standard", ""),
                    cert.get("status", ""),
                    f"{sunset} ({days} days)" if sunset and days is not None else sunset,
                    m["wording"],
                ]
            )
    return rows


def render_markdown(evidence: dict[str, Any]) -> str:
    lines = [
        "# FIPS 140-3 evidence",
        "",
        f"- Generated: {evidence['generated_at']} by fipswizard {evidence['tool']['version']}",
        f"- Evidence date (claim levels computed for): {evidence['evidence_date']}",
        f"- CMVP catalog snapshot: {evidence['catalog']['snapshot']} "
        f"({evidence['catalog']['source']})",
        f"- Source: {evidence['run']['source']}; run {evidence['run']['id']}; correlation ids: "
        + (", ".join(evidence["run"]["correlation_ids"]) or "none"),
        "",
        WORDING,
        "",
        "## Verdict per VM",
        "",
    ]
    lines += _table(
        ["VM", "Claim level", "Checks passed", "Failed"],
        [
            [
                vm["name"],
                vm["claim_label"],
                sum(c["result"] == "pass" for c in vm["checks"]),
                ", ".join(c["id"] for c in vm["checks"] if c["result"] == "fail") or "none",
            ]
            for vm in evidence["vms"]
        ],
    )
    lines += ["", "## Cryptographic module inventory", ""]
    lines += _table(
        ["VM", "Module", "Observed version", "CMVP", "Standard", "Status", "Sunset", "Claim"],
        _module_rows(evidence),
    )
    lines += ["", "## Subscriptions", ""]
    lines += _table(
        ["Subscription", "OptInToFips1403Compliance", "Microsoft.Compute"],
        [
            [s["subscription"], s["feature_state"], s["provider_state"]]
            for s in evidence["subscriptions"]
        ],
    )
    for vm in evidence["vms"]:
        cp = vm["control_plane"]
        lines += ["", f"## {vm['name']}", "", f"- Resource: `{vm['id']}`"]
        if cp:
            lines += [
                f"- Region: {cp['region_detail']}",
                f"- Compute api-version: {cp['api_version']}; power: {cp['power_state']}; "
                f"agent: {cp['agent_status']} {cp['agent_version']}",
            ]
        if vm["error"]:
            lines.append(f"- Could not be read: {vm['error']}")
        if vm["guest_error"]:
            lines.append(f"- Guest: {vm['guest_error']}")
        lines += [f"- Claim level: {vm['claim_label']}", ""]
        lines += _table(
            ["Check", "Title", "Result", "Observed", "How collected"],
            [
                [c["id"], c["title"], c["result"].upper(), c["observed"]
                 + (f" ({c['note']})" if c["note"] else ""), c["how"]]
                for c in vm["checks"]
            ],
        )  # fmt: skip
        if vm["run_steps"]:
            lines += ["", "Steps this run recorded (journal):", ""]
            lines += [f"- {s['at']} {s['step_id']}: {s['status']}" for s in vm["run_steps"]]
    lines += ["", "## Claim levels", ""]
    lines += [f"- **{name}**: {why}" for name, why in LEGEND]
    lines += [
        "",
        "## Verify this bundle",
        "",
        "Run `sha256sum -c SHA256SUMS` in this folder: every file but SHA256SUMS is listed. "
        "Secrets were removed before hashing.",
        "",
    ]
    return "\n".join(lines)


CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:72em}table{border-collapse:collapse;"
    "margin:1em 0}td,th{border:1px solid #999;padding:.3em .5em;text-align:left}"
    ".pass{color:#060}.fail{color:#a00}code{background:#eee}"
)


def render_html(markdown: str) -> str:
    """The Markdown report as self-contained HTML: headings, lists, tables, all escaped."""
    body: list[str] = []
    in_table = in_list = False
    for line in markdown.splitlines():
        if in_list and not line.startswith("- "):
            body.append("</ul>")
            in_list = False
        if in_table and not line.startswith("|"):
            body.append("</table>")
            in_table = False
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            cells = [c.strip().replace("\\|", "|") for c in line.strip("|").split(" | ")]
            if set(line) <= set("|-"):
                continue
            tag = "th" if not in_table else "td"
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append(
                "<tr>"
                + "".join(
                    f'<{tag} class="{c.lower()}">{html.escape(c)}</{tag}>'
                    if c in ("PASS", "FAIL")
                    else f"<{tag}>{html.escape(c)}</{tag}>"
                    for c in cells
                )
                + "</tr>"
            )
        elif line.startswith("- "):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{html.escape(line)}</p>")
    if in_list:
        body.append("</ul>")
    if in_table:
        body.append("</table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>FIPS 140-3 evidence</title><style>{CSS}</style></head><body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
