"""Wiring shared by every front end: cloud, credentials, ARM client, plan, apply, rollback.

What a run takes from outside its recipe is injected in one place, `Options` (the HTTP
transport) and its `Services` (credential, clock, secret values); a real run's defaults read
the environment here (`_environment_credential`, `_environment_secrets`), and nowhere else.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fipswizard.context import Context, Settings, Target, wall_sleep
from fipswizard.engine.events import Event
from fipswizard.engine.journal import Journal
from fipswizard.engine.prompter import Prompter
from fipswizard.engine.report import Summary
from fipswizard.errors import BadInput
from fipswizard.recipe import Recipe, dump_recipe, parse_recipe
from fipswizard.secrets import Secret, secret_from

if TYPE_CHECKING:
    import httpx

    from fipswizard.azure.arm import ArmClient
    from fipswizard.azure.clouds import Cloud
    from fipswizard.azure.credentials import TokenProvider
    from fipswizard.context import ScriptRunner
    from fipswizard.engine.findings import VmRow

    # The plan stack (Azure steps, guest recipes, httpx) loads when a plan is made, not when
    # a front end starts: the TUI paints first (issue 9).
    from fipswizard.engine.plan import Plan


@dataclass(frozen=True)
class Services:
    """What a run takes from outside its recipe: the ARM credential, the secrets' values by
    name (pro_token, tuxcare_key), and the clock and sleep every wait uses. Left None, the
    credential and secrets come from the environment as a real run's do; the demo and tests
    pass their own, so nothing sets os.environ to reach the engine."""

    credential: TokenProvider | None = None
    secrets: Mapping[str, Secret] | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = wall_sleep

    def credential_for(self, cloud: Cloud) -> TokenProvider:
        return self.credential or _environment_credential(cloud)

    def secrets_for(self, recipe: Recipe) -> dict[str, Secret]:
        if self.secrets is None:
            return _environment_secrets(recipe)
        return {name: value for name, value in self.secrets.items() if value}


def _environment_credential(cloud: Cloud) -> TokenProvider:
    """FIPSWIZARD_ACCESS_TOKEN when set (no azure.identity import), else DefaultAzureCredential."""
    from fipswizard.azure.credentials import TOKEN_ENV, credential_for

    return credential_for(cloud, os.environ.get(TOKEN_ENV, ""))


def _environment_secrets(recipe: Recipe) -> dict[str, Secret]:
    """Each secret from the source the recipe names (`env:NAME`, by default
    FIPSWIZARD_PRO_TOKEN and FIPSWIZARD_TUXCARE_KEY, or `file:PATH`); absent ones are not there."""
    out: dict[str, Secret] = {}
    for name, source in recipe.secrets.items():
        kind, _, where = source.partition(":")
        try:
            value = secret_from(
                name,
                value=os.environ.get(where) if kind == "env" else None,
                file=where if kind == "file" else None,
            )
        except OSError as err:
            raise BadInput(f"secret {name}: cannot read {where}: {err.strerror}") from None
        if value is not None:
            out[name] = value
    return out


@dataclass
class Options:
    """Global options: flags win over environment variables, which win over the recipe."""

    arm_endpoint: str | None = None
    ca_bundle: str | None = None
    verbose: bool = False
    settings: Settings = field(default_factory=Settings)
    transport: httpx.AsyncBaseTransport | None = None  # tests and the in-process sandbox
    concurrency: int | None = None  # overrides the recipe's
    services: Services = field(default_factory=Services)


def settings_from_env(base: Settings | None = None) -> Settings:
    """FIPSWIZARD_POLL_INTERVAL shortens every poll and FIPSWIZARD_AGENT_WAIT bounds the wait
    for a Not Ready agent (both in seconds; the sandbox and tests use them)."""
    settings = base or Settings()
    for var, fields in (
        ("FIPSWIZARD_POLL_INTERVAL", ("feature_poll", "agent_poll")),
        ("FIPSWIZARD_AGENT_WAIT", ("agent_wait",)),
    ):
        raw = os.environ.get(var)
        if not raw:
            continue
        try:
            seconds = float(raw)
        except ValueError:
            raise BadInput(f"{var} must be a number of seconds, not {raw!r}") from None
        settings = replace(settings, **dict.fromkeys(fields, seconds))  # type: ignore[arg-type]
    return settings


# ARM refills each subscription's write bucket at 10 writes/s (Microsoft Learn,
# azure-resource-manager/management/request-limits-and-throttling, 2024 token buckets) and the
# client waits out 429s per subscription (azure/arm_retry.py). A VM in flight writes seldom: a
# platform step is one write then a long-running operation (tens of seconds to minutes), and
# its guest steps run one Run Command at a time (Run Command docs: one per VM at a time,
# about 20 s each). So a subscription needs many VMs in flight to use its budget. On the
# sandbox (0.5 s operations, far shorter than Azure's) 32 or more per subscription already
# keep the writes of a 1,000-VM / 5-subscription apply at the bound from the first write on,
# where 8 in all took 3.5x (benchmarks/apply_fleet.py); Azure's longer operations need more
# in flight, hence 64.
VMS_IN_FLIGHT_PER_SUBSCRIPTION = 64
MAX_CONCURRENCY = 256  # the recipe's own ceiling (recipe.py _concurrency)


def default_concurrency(recipe: Recipe) -> int:
    """VMs worked on at once when neither --concurrency nor the recipe sets it: enough to keep
    every subscription's write budget busy, never more than there are VMs to work on."""
    vms = [t for t in recipe.targets if t.skip is None]
    per_sub: dict[str, int] = {}
    for t in vms:
        sub = t.target.subscription.lower()
        per_sub[sub] = per_sub.get(sub, 0) + 1
    wanted = sum(min(n, VMS_IN_FLIGHT_PER_SUBSCRIPTION) for n in per_sub.values())
    return max(1, min(wanted, MAX_CONCURRENCY))


def for_recipe(opts: Options, recipe: Recipe) -> Options:
    """The options with the recipe's own choices applied (its Compute api-version) and the
    concurrency settled: --concurrency, else the recipe's, else default_concurrency."""
    concurrency = opts.concurrency or recipe.concurrency or default_concurrency(recipe)
    return replace(
        opts,
        settings=replace(opts.settings, compute_api=recipe.compute_api),
        concurrency=concurrency,
    )


def new_ids() -> tuple[str, str]:
    """(run id, correlation id): the correlation id goes on every ARM request of the run."""
    return uuid.uuid4().hex[:12], str(uuid.uuid4())


def make_cloud(recipe: Recipe, opts: Options) -> Cloud:
    from fipswizard.azure.clouds import ENDPOINT_ENV, endpoint_override, resolve_cloud

    custom = recipe.custom_cloud
    return resolve_cloud(
        recipe.cloud,
        # a blank flag or variable is an error naming it, never a fall-back to the public cloud
        arm_endpoint=endpoint_override(
            opts.arm_endpoint,
            os.environ.get(ENDPOINT_ENV),
            custom.get("arm_endpoint"),
            recipe.path or "the recipe",
        ),
        authority=custom.get("authority"),
        scope=custom.get("scope"),
        ca_bundle=opts.ca_bundle or custom.get("ca_bundle"),
    )


def make_arm(
    cloud: Cloud, correlation_id: str, opts: Options, *, max_attempts: int | None = None
) -> ArmClient:
    from fipswizard.azure.arm import ArmClient

    extra = {} if max_attempts is None else {"max_attempts": max_attempts}
    services = opts.services
    return ArmClient(
        cloud,
        services.credential_for(cloud),
        correlation_id=correlation_id,
        transport=opts.transport,
        sleep=services.sleep,
        clock=services.clock,
        **extra,  # type: ignore[arg-type]
    )


def load_secrets(recipe: Recipe, services: Services | None = None) -> dict[str, Secret]:
    """The recipe's secrets: the values `services` holds, else each from its source."""
    return (services or Services()).secrets_for(recipe)


def make_context(opts: Options, recipe: Recipe, arm: ArmClient, prompter: Prompter) -> Context:
    """What every step of a run sees: the services' clock and the recipe's secrets."""
    services = opts.services
    return Context(
        prompter=prompter,
        settings=opts.settings,
        arm=arm,
        secrets=load_secrets(recipe, services),
        clock=services.clock,
        sleep=services.sleep,
    )


def runner_factory(arm: ArmClient, settings: Settings) -> Callable[[Target], ScriptRunner | None]:
    def make(target: Target) -> ScriptRunner | None:
        from fipswizard.guest.runners import RunCommandRunner

        return RunCommandRunner(arm, target, settings)

    return make


async def make_plan(
    recipe: Recipe,
    opts: Options,
    *,
    offline: bool,
    arm: ArmClient | None = None,
    unregister_feature: bool = False,
) -> Plan:
    from fipswizard.engine.plan import build_plan, discover

    opts = for_recipe(opts, recipe)
    if offline or arm is None:
        return offline_plan(recipe, opts, offline=offline, unregister_feature=unregister_feature)
    facts = await discover(recipe, arm, opts.settings)
    return build_plan(
        recipe,
        facts,
        endpoint=make_cloud(recipe, opts).arm_endpoint,
        settings=opts.settings,
        offline=offline,
        unregister_feature=unregister_feature,
    )


def offline_plan(
    recipe: Recipe, opts: Options, *, offline: bool = True, unregister_feature: bool = False
) -> Plan:
    """The plan from the recipe alone: no ARM read, so no event loop (`plan --offline` starts
    faster without one; issue 9)."""
    from fipswizard.engine.plan import build_plan

    opts = for_recipe(opts, recipe)
    return build_plan(
        recipe,
        {},
        endpoint=make_cloud(recipe, opts).arm_endpoint,
        settings=opts.settings,
        offline=offline,
        unregister_feature=unregister_feature,
    )


@dataclass(frozen=True)
class Preview:
    """What both front ends show before a run: the plan, each step's state read now (GETs
    only) and the platform preflight verdicts per VM (fipswizard/engine/findings.py)."""

    plan: Plan
    states: dict[tuple[str, str], str]
    rows: list[VmRow]

    def text(self) -> str:
        from fipswizard.engine.preview import plan_text

        return plan_text(self.plan, self.states, self.rows)

    def json(self) -> str:
        from fipswizard.engine.preview import plan_json

        return plan_json(self.plan, self.states, self.rows)


async def preview(
    recipe: Recipe, opts: Options, *, offline: bool = False, max_attempts: int | None = None
) -> Preview:
    """The one preview entry point (`fipswizard plan`, the TUI's Preflight and Plan screens):
    discover, plan and read the current states, sending no write."""
    from fipswizard.engine.findings import vm_rows
    from fipswizard.engine.plan_state import read_states

    if offline:
        return Preview(offline_plan(recipe, opts), {}, [])
    _, correlation_id = new_ids()
    async with make_arm(
        make_cloud(recipe, opts), correlation_id, opts, max_attempts=max_attempts
    ) as arm:
        plan = await make_plan(recipe, opts, offline=False, arm=arm)
        states = await read_states(plan, arm, opts.settings)
    return Preview(plan, states, vm_rows(plan, states, opts.settings.min_agent))


async def run_apply(
    recipe: Recipe,
    opts: Options,
    prompter: Prompter,
    journal_path: Path,
    on_event: Callable[[Event], None],
    *,
    command: str = "apply",
) -> Summary:
    """Discover, plan and run the recipe; every event goes to `on_event`, the summary and the
    log's run record (`command` names the run there: apply, demo)."""
    from fipswizard.engine.run import Engine
    from fipswizard.logs import RunLogger

    opts = for_recipe(opts, recipe)
    run_id, correlation_id = new_ids()
    cloud = make_cloud(recipe, opts)
    summary = Summary()
    summary.compute_api = opts.settings.compute_api
    record = RunLogger(command, f"recipe={recipe.path or '-'} journal={journal_path}")
    keys = (t.target.key for t in recipe.targets)
    record.start(run_id, correlation_id, keys, opts.settings.compute_api)
    try:
        async with make_arm(cloud, correlation_id, opts) as arm:
            plan = await make_plan(recipe, opts, offline=False, arm=arm)
            ctx = make_context(opts, recipe, arm, prompter)
            journal = Journal(journal_path, run_id)
            journal.append("recipe", text=dump_recipe(recipe), endpoint=cloud.arm_endpoint)
            engine = Engine(
                plan,
                ctx,
                journal,
                run_id=run_id,
                correlation_id=correlation_id,
                concurrency=opts.concurrency,
                runner_factory=runner_factory(arm, opts.settings),
                on_interrupt=on_event,
            )
            async for event in engine.run():
                summary.add(event)
                record(event)
                on_event(event)
            summary.gate_refused = engine.gate_refused
    except BaseException as err:
        record.failed(err)
        raise
    record.finish(summary)
    return summary


def evidence_dir(journal: Path) -> Path:
    """Where a run's evidence bundle goes by default: next to its journal, named after it
    (`apply`'s closing hint and the TUI summary's Evidence button both use it)."""
    return journal.with_name(f"{journal.stem}.evidence")


def journal_recipe(journal: Journal) -> Recipe:
    """The recipe of the newest run recorded in a journal (rollback needs its cloud)."""
    texts = [r["text"] for r in journal.records() if r["event"] == "recipe"]
    if not texts:
        raise BadInput(f"{journal.path}: not a fipswizard journal (no recipe record)")
    return parse_recipe(texts[-1], f"{journal.path} (recorded recipe)")


async def run_rollback(
    journal_path: Path,
    opts: Options,
    prompter: Prompter,
    on_event: Callable[[Event], None],
    *,
    unregister_feature: bool = False,
    preview: Callable[[list[str]], None] | None = None,
) -> Summary:
    """Recover interrupted operations, then undo. Before anything is sent, asks `prompter`
    once (`approve`) for every item, a guest reboot "if needed"; only what it approves runs.
    With `preview`, hand it the list (per VM, in order) and send nothing."""
    from fipswizard.engine.rollback import (
        approval_items,
        pending_recoveries,
        pending_undos,
        plan_lines,
    )
    from fipswizard.engine.rollback import run_rollback as undo_all
    from fipswizard.logs import RunLogger

    journal = Journal(journal_path)
    recipe = journal_recipe(journal)
    opts = for_recipe(opts, recipe)
    undos = pending_undos(journal, unregister_feature=unregister_feature)
    recoveries = pending_recoveries(journal)
    summary = Summary()
    lines = plan_lines(undos, recoveries)
    if preview is not None:
        preview(lines)
        return summary
    if not undos and not recoveries:
        return summary
    items = approval_items(undos, recoveries)
    approved = await prompter.approve(items) & {i.key for i in items}
    if not approved:
        return summary
    run_id, correlation_id = new_ids()
    journal.run_id = run_id
    journal.append(
        "rollback-approved",
        approved=sorted(f"{t} {s}" for t, s in approved),
        declined=sorted(f"{i.target} {i.step_id}" for i in items if i.key not in approved),
    )
    summary.compute_api = opts.settings.compute_api
    # No RunStarted comes from the rollback engine: the run's ids and start are set here.
    summary.run_id, summary.correlation_id = run_id, correlation_id
    summary.started, summary.started_at = time.time(), time.monotonic()
    record = RunLogger("rollback", f"journal={journal_path}")
    keys = dict.fromkeys(u.begun.target for u in [*recoveries, *undos])
    record.start(run_id, correlation_id, keys, opts.settings.compute_api)
    cloud = make_cloud(recipe, opts)
    try:
        async with make_arm(cloud, correlation_id, opts) as arm:
            ctx = make_context(opts, recipe, arm, prompter)
            async for event in undo_all(
                undos,
                journal,
                ctx,
                cloud=recipe.cloud,
                runner_factory=runner_factory(arm, opts.settings),
                approved=approved,
                recoveries=recoveries,
                concurrency=opts.concurrency or recipe.concurrency or default_concurrency(recipe),
            ):
                # The rollback engine does not stamp its events: stamp them here, so step
                # durations (log, summary) and the progress lines' elapsed time are real.
                if not event.at:
                    event = replace(event, at=time.monotonic())
                summary.add(event)
                record(event)
                on_event(event)
    except BaseException as err:
        record.failed(err)
        raise
    record.finish(summary)
    return summary
