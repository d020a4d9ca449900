"""`fipswizard status RECIPE [--guest] [--format text|json]`: where each VM stands."""

from __future__ import annotations

import argparse
import sys

EPILOG = """Read-only: GETs only; with --guest also the one read-only probe per VM (Run Command).
verdicts: compliant, needs flag, needs guest, blocked: why (without --guest, compliant means
the flag is set and the agent Ready; the guest is not checked).
exit codes: 0 every VM compliant; 1 some VM is not; 2 bad input; 3 authentication."""


async def status(args: argparse.Namespace) -> int:
    from fipswizard.evidence.make import read_fleet
    from fipswizard.headless.commands import options
    from fipswizard.recipe import load_recipe
    from fipswizard.status import status_exit, status_json, status_rows, status_text

    recipe = load_recipe(args.recipe)
    fleet = await read_fleet(recipe, options(args), guest=args.guest)
    rows = status_rows(fleet)
    render = status_json(rows, args.guest) if args.format == "json" else status_text(rows)
    sys.stdout.write(render)
    return status_exit(rows)
