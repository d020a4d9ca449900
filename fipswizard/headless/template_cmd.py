"""`fipswizard template`: patch an ARM template so new Linux VMs are born FIPS, or print the
Bicep snippet / the cloud-init section. stdout is the data, stderr says what changed and why."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fipswizard.errors import BadInput
from fipswizard.versions import COMPUTE_API as FIPS_API  # template.py loads only to run


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tp = sub.add_parser(
        "template",
        help="make new VMs born FIPS: patch an ARM template, or print Bicep / cloud-init",
        description="Every Linux Microsoft.Compute/virtualMachines resource gets "
        "additionalCapabilities.enableFips1403Encryption: true (a boolean) and an apiVersion "
        f"that types it ({FIPS_API} or later); Windows VMs and other resources are left byte "
        "for byte. Flatcar: see `fipswizard butane`.",
    )
    tp.add_argument("template", nargs="?", metavar="TEMPLATE.json", help="ARM template (JSON)")
    tp.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    tp.add_argument("--api-version", default=FIPS_API, help=f"Compute api-version (>= {FIPS_API})")
    tp.add_argument(
        "--ubuntu-pro",
        action="store_true",
        help="Ubuntu Pro VMs without customData get cloud-init that enables fips-updates",
    )
    tp.add_argument("--bicep", action="store_true", help="print the Bicep snippet instead")
    tp.add_argument(
        "--cloud-init", action="store_true", help="print the Ubuntu Pro cloud-init section"
    )


def run_template(args: argparse.Namespace) -> int:
    from fipswizard.template import UBUNTU_PRO_CLOUD_INIT, bicep_snippet, patch_template

    if args.bicep:
        sys.stdout.write(bicep_snippet(args.api_version))
        return 0
    if args.cloud_init:
        sys.stdout.write(UBUNTU_PRO_CLOUD_INIT)
        return 0
    if not args.template:
        raise BadInput("template: give TEMPLATE.json, or --bicep, or --cloud-init")
    path = Path(args.template)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: cannot read the template: {err}") from None
    patched = patch_template(
        text, str(path), api_version=args.api_version, ubuntu_pro=args.ubuntu_pro
    )
    if args.output:
        Path(args.output).write_text(patched.text, encoding="utf-8")
    else:
        sys.stdout.write(patched.text)
    for line in patched.changed:
        print(f"changed: {line}", file=sys.stderr)
    for line in patched.notes:
        print(f"note: {line}", file=sys.stderr)
    if not patched.changed:
        print("note: no Linux virtualMachines resource needed a change", file=sys.stderr)
    return 0
