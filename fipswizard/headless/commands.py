"""The headless subcommands: recipe new, plan, apply, rollback."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from fipswizard.context import Target, key_name
from fipswizard.engine.approvals import ApprovalItem, by_target, declined_by
from fipswizard.engine.events import (
    Event,
    TargetOutcome,
)
from fipswizard.engine.plan import Plan
from fipswizard.engine.report import Elapsed, exit_code
from fipswizard.errors import BadInput, ExitCode, RecipeError
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe, load_recipe, parse_recipe
from fipswizard.secrets import redact
from fipswizard.session import Options, Preview, settings_from_env


def options(args: argparse.Namespace) -> Options:
    settings = settings_from_env()
    if getattr(args, "feature_timeout", None):
        settings = replace(settings, feature_timeout=args.feature_timeout)
    concurrency = getattr(args, "concurrency", None)
    if concurrency is not None and not 1 <= concurrency <= 256:
        raise BadInput(f"--concurrency must be 1..256, not {concurrency}")
    return Options(
        arm_endpoint=args.arm_endpoint,
        ca_bundle=args.ca_bundle,
        verbose=args.verbose,
        settings=settings,
        concurrency=concurrency,
    )


def recipe_new(args: argparse.Namespace) -> int:
    """Write a recipe. `--vm` names in one subscription and resource group are written as
    given (no ARM call, as before); any other selection is resolved now by listing (read-only)
    and frozen into the targets, with the selector recorded in [selector]."""
    from fipswizard.azure.selection import Selector

    selector = Selector(
        subscriptions=tuple(args.subscription or ()),
        resource_groups=tuple(args.resource_group or ()),
        tags=tuple(args.tag or ()),
        query=args.query or "",
        vms=tuple(args.vm or ()),
        exclude=tuple(args.exclude or ()),
    )
    by_name_only = (
        selector.vms
        and not (selector.tags or selector.query or selector.exclude)
        and len(selector.subscriptions) == 1
        and len(selector.resource_groups) == 1
        and not any("/" in vm for vm in selector.vms)
    )
    targets: tuple[RecipeTarget, ...] = ()
    if by_name_only:
        sub, group = selector.subscriptions[0], selector.resource_groups[0]
        targets = tuple(
            RecipeTarget(Target(sub, group, vm, args.cloud), args.guest) for vm in selector.vms
        )
    custom = {
        "arm_endpoint": args.custom_endpoint,
        "authority": args.authority,
        "ca_bundle": args.custom_ca_bundle,
    }
    keyvault = {"vault_id": args.vault_id, "certificate_url": args.certificate_url}
    recipe = Recipe(
        targets=targets,
        selector={} if by_name_only else selector.to_table(),
        cloud=args.cloud,
        guest=args.guest,
        fix=args.fix,
        # not given: the recipe's default, which the run reads as "choose from the fleet"
        **({} if args.concurrency is None else {"concurrency": args.concurrency}),
        custom_cloud={k: v for k, v in custom.items() if v},
        keyvault={k: v for k, v in keyvault.items() if v},
    )
    if not by_name_only:
        recipe = replace(recipe, targets=_select(args, recipe, selector))
    text = dump_recipe(recipe)
    flags = {
        "keyvault.vault_id": "--vault-id",
        "keyvault.certificate_url": "--certificate-url",
        "custom_cloud.arm_endpoint": "--custom-endpoint",
        "custom_cloud.authority": "--authority",
    }
    try:
        parse_recipe(text, "<new recipe>")  # the same validation `apply` will do
    except RecipeError as err:
        hint = f"; pass {flags[err.key]}" if err.key in flags else ""
        raise BadInput(f"recipe new: {str(err).split(': ', 1)[1]}{hint}") from None
    if args.output:
        from fipswizard.files import write_private_text

        # A missing folder is created (0700), as the journal's and the log's are: the
        # operator named it explicitly. A symlink or a folder in its place is refused.
        write_private_text(args.output, text, what="recipe")
        print(f"wrote {args.output}; next: fipswizard plan {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _select(args: argparse.Namespace, recipe: Recipe, selector: Any) -> tuple[RecipeTarget, ...]:
    """Resolve the selector against ARM (GETs and Resource Graph queries only)."""
    import asyncio

    from fipswizard.azure.selection import resolve, scale_set_reason
    from fipswizard.session import for_recipe, make_arm, make_cloud, new_ids

    if not (selector.subscriptions or selector.query):
        raise BadInput("recipe new: pass --subscription (one or more), or --query")
    if not (selector.resource_groups or selector.tags or selector.query or selector.vms):
        raise BadInput(
            "recipe new: nothing selects VMs: pass --resource-group, --tag, --query or --vm"
        )
    opts = for_recipe(options(args), recipe)

    async def run() -> Any:
        async with make_arm(make_cloud(recipe, opts), new_ids()[1], opts) as arm:
            return await resolve(arm, selector, opts.settings.compute_api)

    found = asyncio.run(run())
    for line in found.not_targets:
        print(f"fipswizard: recipe new: not a target: {line}", file=sys.stderr)
    if not found.vms:
        raise BadInput("recipe new: the selection matches no VM; check the selector")
    targets = tuple(
        RecipeTarget(
            Target(f.subscription, f.resource_group, f.name, args.cloud),
            args.guest,
            skip=scale_set_reason(f.scale_set) if f.scale_set else None,
        )
        for f in found.vms
    )
    skipped = sum(t.skip is not None for t in targets)
    print(
        f"fipswizard: recipe new: selected {len(targets)} VMs"
        + (f" ({skipped} in a scale set: skipped, see skip =)" if skipped else ""),
        file=sys.stderr,
    )
    return targets


_ELAPSED = Elapsed()  # headless runs are one at a time per process


def print_progress(event: Event) -> None:
    line = _ELAPSED.line(event)
    if line:
        print(redact(line), file=sys.stderr, flush=True)


async def plan(args: argparse.Namespace) -> int:
    from fipswizard.session import preview

    recipe = load_recipe(args.recipe)
    # A preview gives up sooner than a run on an endpoint that does not answer.
    shown = await preview(recipe, options(args), offline=args.offline, max_attempts=PLAN_ATTEMPTS)
    return _show_plan(args, recipe, shown)


def plan_offline(args: argparse.Namespace) -> int:
    """`plan --offline`: the plan from the recipe alone, without an event loop."""
    from fipswizard.session import offline_plan

    recipe = load_recipe(args.recipe)
    return _show_plan(args, recipe, Preview(offline_plan(recipe, options(args)), {}, []))


def _show_plan(args: argparse.Namespace, recipe: Recipe, shown: Preview) -> int:
    from fipswizard.engine.preview import problems
    from fipswizard.session import load_secrets

    the_plan, states = shown.plan, shown.states
    sys.stdout.write(shown.json() + "\n" if args.format == "json" else shown.text())
    for warning in missing_secrets(the_plan, recipe, set(load_secrets(recipe))):
        print(f"fipswizard: warning: {warning}", file=sys.stderr)
    found = problems(the_plan, states)
    for line in found:
        print(f"fipswizard: plan: {line}", file=sys.stderr)
    return int(ExitCode.STEP_FAILED) if found else 0


PLAN_ATTEMPTS = 3  # sends per request before `plan` reports a VM unreadable


def missing_secrets(the_plan: Plan, recipe: Recipe, available: set[str]) -> list[str]:
    """A line per secret a guest script of the plan needs that is not available now."""
    from fipswizard.engine.steps import ScriptAction

    needed: dict[str, set[str]] = {}
    for unit in the_plan.units:
        for step in unit.steps:
            for action in step.actions():
                if isinstance(action, ScriptAction):
                    for name in action.secrets:
                        needed.setdefault(name, set()).add(key_name(unit.key))
    out = []
    for name, vms in sorted(needed.items()):
        if name in available:
            continue
        kind, _, where = recipe.secrets.get(name, "").partition(":")
        why = {
            "env": f"the environment variable {where} is not set",
            "file": f"the file {where} is missing or empty",
        }.get(kind, f'the recipe\'s [secrets] table does not name it ({name} = "env:VARIABLE")')
        out.append(f"secret {name} is needed by {', '.join(sorted(vms))} but {why}")
    return out


async def apply(args: argparse.Namespace) -> int:
    from fipswizard.engine.journal import Journal
    from fipswizard.engine.prompter import HeadlessPrompter
    from fipswizard.session import run_apply

    recipe = load_recipe(args.recipe)
    journal = Path(args.journal) if args.journal else Journal.default_for(args.recipe)
    # The whole journal is checked (and matched to this recipe) before anything is written.
    Journal(journal).check_recipe(
        recipe, allow_other=getattr(args, "journal_of_other_recipe", False)
    )
    print(f"journal: {journal}", file=sys.stderr)
    prompter = HeadlessPrompter(
        args.yes, declined_by(recipe), approve_command(args), approve_command(args, review=True)
    )
    summary = await run_apply(recipe, options(args), prompter, journal, print_progress)
    if summary.gate_refused:
        print(f"fipswizard: {summary.gate_refused}", file=sys.stderr)
    sys.stdout.write((summary.to_json() if args.format == "json" else summary.to_text()) + "\n")
    if summary.targets and not summary.gate_refused:
        # where the operator finishes: the read-only evidence bundle for this run
        print(f"next: {evidence_command(args, journal)}", file=sys.stderr)
    return exit_code(summary)


def evidence_command(args: argparse.Namespace, journal: Path) -> str:
    """The `evidence` command for this run's journal, runnable as printed (the bundle goes
    next to the journal, as the TUI's Evidence button writes it)."""
    from fipswizard.session import evidence_dir

    argv = ["fipswizard"]
    for flag, value in (("--arm-endpoint", args.arm_endpoint), ("--ca-bundle", args.ca_bundle)):
        if value:
            argv += [flag, value]
    return shlex.join([*argv, "evidence", str(journal), "-o", str(evidence_dir(journal))])


def approve_command(args: argparse.Namespace, *, review: bool = False) -> str:
    """The exact `apply` command that approves what this run asked (or with `review`, the
    `plan` command that shows it), runnable as printed."""
    argv = ["fipswizard"]
    for flag, value in (("--arm-endpoint", args.arm_endpoint), ("--ca-bundle", args.ca_bundle)):
        if value:
            argv += [flag, value]
    if review:
        return shlex.join([*argv, "plan", args.recipe])
    argv += ["apply", args.recipe]
    if args.journal:
        argv += ["--journal", args.journal]
    if getattr(args, "journal_of_other_recipe", False):
        argv.append("--journal-of-other-recipe")
    if args.concurrency is not None:
        argv += ["--concurrency", str(args.concurrency)]
    return shlex.join([*argv, "--yes"])


async def rollback(args: argparse.Namespace) -> int:
    """`--plan` prints every undo per VM and sends nothing; otherwise ask y/N on a terminal,
    `--yes` for pipelines, and exit 4 listing the undos when neither can answer."""
    from fipswizard.engine.journal import Journal
    from fipswizard.engine.prompter import HeadlessPrompter
    from fipswizard.session import run_rollback

    Journal(args.journal).records()  # the whole journal checked before the first write
    command = shlex.join(["fipswizard", "rollback", args.journal, "--yes"])
    review = shlex.join(["fipswizard", "rollback", args.journal, "--plan"])

    def show(lines: list[str]) -> None:
        sys.stdout.write("\n".join(lines or ["nothing to roll back"]) + "\n")

    prompter = (
        _TerminalPrompter()
        if not args.yes and not args.plan and sys.stdin.isatty()
        else HeadlessPrompter(args.yes, command=command, review=review, recipe_declines=False)
    )
    summary = await run_rollback(
        Path(args.journal),
        options(args),
        prompter,
        print_progress,
        unregister_feature=args.unregister_feature,
        preview=show if args.plan else None,
    )
    if args.plan:
        return 0
    if isinstance(prompter, _TerminalPrompter) and not prompter.approved:
        return int(ExitCode.NEEDS_CONFIRMATION) if prompter.asked else 0
    if not summary.targets:
        print("nothing to roll back", file=sys.stderr)
        return 0
    sys.stdout.write(summary.to_text("rolled back") + "\n")
    done = all(t.outcome is TargetOutcome.ROLLED_BACK for t in summary.targets.values())
    return 0 if done else int(ExitCode.STEP_FAILED)


class _TerminalPrompter:
    """Rollback on a terminal: one y/N question for the whole list, per VM in order; yes
    approves every item (the reboots "if needed" included), no sends nothing."""

    def __init__(self) -> None:
        self.approved = self.asked = False

    async def approve(self, items: Sequence[ApprovalItem]) -> set[tuple[str, str]]:
        lines = ["roll back, per VM in this order:"]
        for target, group in by_target(items).items():
            lines.append(f"  {target}")
            lines += [f"    {n}. {item.line()}" for n, item in enumerate(group, 1)]
        print("\n".join(lines), file=sys.stderr)
        self.asked = True
        answer = input("Proceed? [y/N] ").strip().lower()
        self.approved = answer in ("y", "yes")
        if not self.approved:
            print("rollback declined: nothing changed", file=sys.stderr)
            return set()
        return {item.key for item in items}
