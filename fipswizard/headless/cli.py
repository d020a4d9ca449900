"""The `fipswizard` command line. stdout is data, stderr is diagnostics; exit codes below.

Imports stay lazy so `--help` and `plan --offline` start fast and headless runs with
FIPSWIZARD_ACCESS_TOKEN never import textual or azure.identity.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from fipswizard import __version__
from fipswizard.errors import ExitCode, FipsWizardError

PLAN_EXIT_CODES = """exit codes of plan (a CI gate):
  0  the state of every target was read (or --offline); the plan is on stdout
  1  the state of a target could not be read (the VM does not exist, ARM did not answer, an
     unparseable answer): one line per target on stderr; the plan is still printed
  2  bad input: usage, a malformed recipe
  3  authentication: no credential, or ARM refused it (401/403)
The plan ends with a summary (VMs, flag changes, guest changes, reboots, irreversible steps,
VMs preflight refuses, VMs that could not be read); --format json carries it as "summary"."""

EXIT_CODES = """exit codes:
  0  every target ended compliant (or the command did what it said)
  1  a step failed, or a target is not compliant (see the summary)
  2  bad input: usage, a malformed recipe or journal
  3  authentication: no credential, or ARM refused it (401/403)
  4  approval needed: nothing was written; stderr lists per VM what needs approval and the
     exact command that approves it (review `fipswizard plan` first)
130  interrupted: the journal keeps the state; run the same command again to resume"""

DESCRIPTION = """Enable FIPS 140-3 on Azure Linux VMs end to end: the subscription opt-in, the VM's
enableFips1403Encryption flag, FIPS mode inside the guest, validation and repair.

Typical use:
  fipswizard demo --headless                    # the whole job against a simulated Azure
  fipswizard recipe new --subscription S --resource-group RG --vm VM -o fips.toml
  fipswizard plan fips.toml                     # dry run: every request and script, no write
  fipswizard apply fips.toml --yes              # replay without questions
  fipswizard rollback fips.journal.jsonl        # undo what the runs changed

Credentials: FIPSWIZARD_ACCESS_TOKEN (a bearer token, e.g. from `az account get-access-token`)
or azure-identity's DefaultAzureCredential (so `az login` just works)."""


def _parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    p = argparse.ArgumentParser(
        prog="fipswizard", description=DESCRIPTION, epilog=EXIT_CODES, formatter_class=fmt
    )
    p.add_argument("--version", action="version", version=f"fipswizard {__version__}")
    p.add_argument(
        "--arm-endpoint",
        metavar="URL",
        help="ARM endpoint override (also FIPSWIZARD_ARM_ENDPOINT); http:// only for loopback",
    )
    p.add_argument("--ca-bundle", metavar="PEM", help="extra CA certificates for TLS to ARM")
    p.add_argument("--verbose", "-v", action="store_true", help="also print the log to stderr")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("recipe", help="write a recipe file", formatter_class=fmt)
    rs = r.add_subparsers(dest="recipe_command", metavar="new", required=True)
    new = rs.add_parser(
        "new",
        help="write a new recipe (stdout unless -o)",
        formatter_class=fmt,
        description="Write a recipe naming the VMs and the choices; secrets are "
        "never written, only where they come from.",
    )
    # Selection (fipswizard/azure/selection.py): the sources are a union, then --exclude.
    new.add_argument(
        "--subscription", action="append", metavar="ID", help="subscription id; repeatable"
    )
    new.add_argument(
        "--resource-group",
        action="append",
        metavar="RG",
        help="every VM in it (with --vm: the group of those names); repeatable",
    )
    new.add_argument(
        "--tag", action="append", metavar="KEY=VALUE", help="VMs carrying every tag; repeatable"
    )
    new.add_argument("--query", metavar="KQL", help="Azure Resource Graph query returning `id`")
    new.add_argument(
        "--vm", action="append", metavar="NAME", help="VM name (or RG/NAME); repeatable"
    )
    new.add_argument(
        "--exclude", action="append", metavar="NAME", help="leave out (NAME or RG/NAME)"
    )
    new.add_argument(
        "--cloud", default="AzureCloud", choices=["AzureCloud", "AzureUSGovernment", "custom"]
    )
    new.add_argument(
        "--guest",
        default="auto",
        metavar="auto|none|RECIPE_ID",
        help="in-guest recipe: auto-detect, none (platform only), or a recipe id",
    )
    new.add_argument(
        "--fix",
        default="reallocate",
        choices=["reallocate", "keyvault", "none"],
        help="what to do when validation shows the old certificate package",
    )
    new.add_argument(
        "--vault-id", metavar="ID", help="with --fix keyvault: the vault's resource id"
    )
    new.add_argument(
        "--certificate-url",
        metavar="URL",
        help="with --fix keyvault: the certificate's secret URL in that vault",
    )
    new.add_argument("--custom-endpoint", metavar="URL", help="with --cloud custom: ARM endpoint")
    new.add_argument("--authority", metavar="HOST", help="with --cloud custom: Entra authority")
    new.add_argument("--custom-ca-bundle", metavar="PEM", help="with --cloud custom: CA bundle")
    new.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="VMs worked on at once (default: chosen at run time from the VMs per subscription)",
    )
    new.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")

    pl = sub.add_parser(
        "plan",
        help="dry run: show every request and script; sends no write",
        formatter_class=fmt,
        epilog=PLAN_EXIT_CODES,
    )
    pl.add_argument("recipe", metavar="RECIPE")
    pl.add_argument("--format", choices=["text", "json"], default="text")
    pl.add_argument(
        "--offline",
        action="store_true",
        help="do not read current state from Azure (no credentials needed)",
    )

    ap = sub.add_parser(
        "apply", help="run a recipe without questions", formatter_class=fmt, epilog=EXIT_CODES
    )
    ap.add_argument("recipe", metavar="RECIPE")
    ap.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="confirm disruptive steps (reboot, deallocate) in advance",
    )
    ap.add_argument(
        "--journal",
        metavar="FILE",
        help="journal path (default: RECIPE's name + .journal.jsonl); an existing "
        "journal is resumed",
    )
    ap.add_argument("--format", choices=["text", "json"], default="text", help="summary format")
    ap.add_argument(
        "--journal-of-other-recipe",
        action="store_true",
        help="accept a journal recorded for a different recipe",
    )
    ap.add_argument(
        "--concurrency", type=int, metavar="N", help="VMs worked on at once (overrides the recipe)"
    )
    ap.add_argument(
        "--feature-timeout",
        type=float,
        metavar="SECONDS",
        default=3600.0,
        help="how long to wait for the subscription feature to register (default "
        "3600); a later apply resumes the wait",
    )

    rb = sub.add_parser(
        "rollback",
        help="undo, in reverse order, what a journal recorded",
        formatter_class=fmt,
        epilog=EXIT_CODES,
    )
    rb.add_argument("journal", metavar="JOURNAL")
    rb.add_argument(
        "--yes",
        "-y",
        action="store_true",
        help="do not ask (pipelines); without it, asks y/N on a terminal, else exits 4",
    )
    rb.add_argument(
        "--plan",
        action="store_true",
        help="print every undo per VM, in order, and send nothing",
    )
    rb.add_argument(
        "--unregister-feature",
        action="store_true",
        help="also unregister the subscription feature if this run registered it",
    )

    dm = sub.add_parser("demo", help="the whole job against the built-in simulated Azure")
    dm.add_argument("--headless", action="store_true", help="no TUI: progress on stderr")
    dm.add_argument("--workdir", metavar="DIR", help="where the demo recipe and journal go")

    ck = sub.add_parser("check", help="assess this machine (or a mounted root); changes nothing")
    ck.add_argument(
        "--local", action="store_true", required=True, help="assess the machine fipswizard runs on"
    )
    ck.add_argument("--root", metavar="DIR", help="assess a mounted root instead of /")
    ck.add_argument("--format", choices=["text", "json"], default="text")

    from fipswizard.headless import evidence_cmd, status_cmd

    st = sub.add_parser(
        "status",
        help="where each VM stands (read-only): flag, region, agent, guest; a verdict per VM",
        formatter_class=fmt,
        epilog=status_cmd.EPILOG,
    )
    st.add_argument("recipe", metavar="RECIPE")
    st.add_argument("--guest", action="store_true", help="also run the read-only guest probe")
    st.add_argument("--format", choices=["text", "json"], default="text")
    ev = sub.add_parser(
        "evidence",
        help="write an evidence bundle for a journal's or recipe's VMs (read-only)",
        formatter_class=fmt,
        epilog=evidence_cmd.EPILOG,
    )
    ev.add_argument("source", metavar="JOURNAL|RECIPE", help="a .jsonl journal or a recipe")
    ev.add_argument("-o", "--output", required=True, metavar="DIR", help="bundle folder")

    bu = sub.add_parser("butane", help="print a Butane config for new FIPS Flatcar instances")
    bu.add_argument("--ssh-key", action="append", metavar="KEY", help="authorized key to add")

    from fipswizard.headless import template_cmd

    template_cmd.add_parser(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        return _tui(args, demo=False)
    from fipswizard.logs import setup_logging

    setup_logging(args.verbose)
    try:
        return _dispatch(args)
    except FipsWizardError as err:
        from fipswizard.secrets import redact

        print(f"fipswizard: {redact(str(err))}", file=sys.stderr)
        return int(err.exit_code)
    except KeyboardInterrupt:
        print(
            "fipswizard: interrupted; the journal keeps the state: run the same command "
            "again to resume",
            file=sys.stderr,
        )
        return int(ExitCode.INTERRUPTED)


def _dispatch(args: argparse.Namespace) -> int:
    from fipswizard.headless import commands

    if args.command == "recipe":
        return commands.recipe_new(args)
    if args.command == "plan" and args.offline:
        return commands.plan_offline(args)  # no I/O, so no event loop
    import asyncio  # only where I/O starts: `plan --offline` and `--help` never load it

    if args.command == "plan":
        return asyncio.run(commands.plan(args))
    if args.command == "apply":
        return asyncio.run(commands.apply(args))
    if args.command == "rollback":
        return asyncio.run(commands.rollback(args))
    if args.command == "demo":
        if not args.headless:
            return _tui(args, demo=True)
        from fipswizard.headless.demo import run_demo

        return asyncio.run(run_demo(args))
    if args.command == "check":
        from fipswizard.headless.check import run_check

        return run_check(Path(args.root) if args.root else None, args.format, sys.stdout)
    if args.command == "status":
        from fipswizard.headless.status_cmd import status

        return asyncio.run(status(args))
    if args.command == "evidence":
        from fipswizard.headless.evidence_cmd import evidence

        return asyncio.run(evidence(args))
    if args.command == "butane":
        from fipswizard.guest.butane import render_butane

        sys.stdout.write(render_butane(args.ssh_key))
        return 0
    if args.command == "template":
        from fipswizard.headless.template_cmd import run_template

        return run_template(args)
    raise AssertionError(args.command)


def _tui(args: argparse.Namespace, *, demo: bool) -> int:
    """The one lazy import of the TUI: the engine never imports textual or screens."""
    try:
        from screens.app import run_app
    except ImportError as err:  # pragma: no cover - textual is a dependency
        print(
            f"fipswizard: the TUI is unavailable ({err}); use a subcommand, see --help",
            file=sys.stderr,
        )
        return int(ExitCode.BAD_INPUT)
    workdir = getattr(args, "workdir", None)
    return int(
        run_app(
            demo=demo,
            arm_endpoint=getattr(args, "arm_endpoint", None),
            workdir=workdir,
            ca_bundle=getattr(args, "ca_bundle", None),
        )
    )


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
