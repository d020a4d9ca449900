"""`fipswizard evidence JOURNAL|RECIPE -o DIR`: the bundle an auditor reads (read-only)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """Reads only (GETs and the one read-only probe per VM); writes only under DIR:
report.md, report.html, evidence.json, oscal/assessment-results.json, per-VM raw outputs,
manifest.json and SHA256SUMS (verify with `sha256sum -c SHA256SUMS` in DIR).
exit codes: 0 written; 2 bad input; 3 authentication."""


async def evidence(args: argparse.Namespace) -> int:
    from fipswizard.evidence.make import make_evidence
    from fipswizard.headless.commands import options

    doc, _ = await make_evidence(args.source, Path(args.output), options(args))
    for vm in doc["vms"]:
        print(f"{vm['name']}: {vm['claim_label']}", file=sys.stderr)
    print(str(Path(args.output) / "report.html"))
    return 0
