"""Guest steps: a recipe step's scripts (check / apply / verify / rollback) and the reboot.

Reboot marker contract (shared with recipes/guest/lib.sh):
- An apply script whose change takes effect only after a reboot calls `fw_mark_reboot`, which
  creates protocol.REBOOT_MARK (/var/lib/fipswizard/reboot-required).
- RebootStep.check runs `engine/reboot/check`: no marker -> done. A marker older than the
  current boot (mtime before now - /proc/uptime) means the reboot already happened (e.g. a
  local run killed by its own reboot): the after_reboot verify scripts (read-only) decide.
  Otherwise -> needed.
- RebootStep.apply restarts the VM (ARM `POST restart`, or `systemctl reboot` locally) and
  waits for the agent to be Ready again.
- RebootStep.verify runs every after_reboot step's verify script, then `engine/reboot/verify`
  clears the marker (`fw_clear_reboot`).
- Secrets (`FW_SECRET_<NAME>`) reach a step's apply script only, never check/verify/rollback.
- The run's non-secret choices (param `flatcar_extensions`) are variables in every script's
  text (`recipes.choice_vars`), so check, apply, verify and rollback all see the same choice.
- A GuestScriptStep with after_reboot = true accepts "needed" from its verify while the plan
  still has the reboot ahead (param `reboot_follows`), unless the script prints
  `reboot_pending=no`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fipswizard.azure.arm_errors import ArmError
from fipswizard.azure.arm_step import ArmCall, vm_read
from fipswizard.azure.steps_validate import ReallocateFix
from fipswizard.azure.steps_vm import wait_for_agent
from fipswizard.azure.vm_model import VmFacts, vm_facts
from fipswizard.context import Context, ScriptResult, Settings, Target, TargetKey
from fipswizard.engine.steps import (
    Action,
    BatchOutcome,
    HttpAction,
    Outcome,
    Risk,
    ScriptAction,
    Step,
)
from fipswizard.errors import FipsWizardError, StepError
from fipswizard.guest.batch import BatchResult, Part, fitting, parse_batch, read_parts, remember
from fipswizard.guest.diagnose import COSTS
from fipswizard.guest.protocol import (
    DONE,
    FLATCAR_EXTENSIONS,
    NEEDED,
    NO_RC,
    REBOOT_MARK,
    REFUSED,
    TIMED_OUT,
    parse_facts,
    secret_var,
)
from fipswizard.guest.recipes import (
    GuestRecipe,
    GuestStepSpec,
    choice_vars,
    load_guest_recipe,
    recipe_dir,
    script_text,
    wrap_snippet,
)
from fipswizard.versions import MIN_AGENT

READ_ONLY_PHASES = ("check", "verify")
RUN_COMMAND_MAX = 90 * 60  # Run Command's own limit (azure-platform.md 3.1)
REBOOT_CHECK = (
    f"m={REBOOT_MARK}\n"
    + """\
[ -e "$m" ] || fw_done "no reboot pending"
up=$(cut -d' ' -f1 /proc/uptime); up=${up%.*}
boot=$(( $(date +%s) - up ))
marked=$(stat -c %Y "$m" 2>/dev/null || date +%s)
echo "marked_at=$marked booted_at=$boot"
if [ "$marked" -lt $((boot - 2)) ]; then echo "rebooted=1"; fw_done "rebooted since the change"; fi
fw_needed "a reboot is pending: the changes take effect only after it"
"""
)
REBOOT_LOCAL = 'echo "rebooting=1"\nsystemctl reboot\n'
REBOOT_CLEAR = """fw_clear_reboot
echo "fips_enabled=$(fw_fips_enabled)"
fw_done "reboot finished"
"""
AGENT_ADVICE = (
    "read /var/log/waagent.log through the serial console or boot diagnostics: 'Failed to "
    "decrypt ...Certificates.p7m' with agent 2.7.0.6 is the RHEL 9.5/9.6 loop (the rhel9 "
    "workaround step fixes it); 'Error converting PFX to PEM' means the VM is not opted in or "
    "holds an old certificate package (deallocate + start); a goal-state agent older than "
    f"{MIN_AGENT} needs AutoUpdate.Enabled=y"
)


def _detail(result: ScriptResult) -> str:
    facts = parse_facts(result.stdout)
    for key in ("refused", "error", "done", "needed", "not-applicable"):
        if key in facts:
            return facts[key] if key != "not-applicable" else "not applicable here"
    lines = [ln.strip() for ln in result.stdout.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else f"exit code {result.rc}"


def _say(ctx: Context, stdout: str) -> None:
    for line in stdout.splitlines():
        if line.strip():
            ctx.progress(line.rstrip())


def _tail(text: str, count: int = 5) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[-count:])[-600:]


class _GuestStep(Step):
    """Shared: find the recipe and spec from params, run a script, report output lines."""

    @property
    def recipe(self) -> GuestRecipe:
        folder = self.params.get("recipe_dir")
        return load_guest_recipe(self.params["recipe"], base=Path(folder) if folder else None)

    @property
    def spec(self) -> GuestStepSpec:
        return self.recipe.step(self.params["step"])

    @property
    def choices(self) -> dict[str, str]:
        return choice_vars(str(self.params.get("flatcar_extensions") or FLATCAR_EXTENSIONS[0]))

    async def _execute(
        self,
        ctx: Context,
        text: str,
        secrets: tuple[str, ...] = (),
        *,
        required: bool = False,
        timeout: float = 900,
        read_only: bool = False,
    ) -> ScriptResult:
        if read_only and not secrets:
            result = await ctx.run_read(text, timeout)
        else:
            from fipswizard.guest.runners import secret_env  # asyncio: where I/O starts

            env = secret_env(secrets, ctx.secrets, required=required)
            result = await ctx.need_runner().run(
                text, env=env, timeout=timeout, read_only=read_only, progress=ctx.progress
            )
        _say(ctx, result.stdout)
        return result

    def _failure(self, phase: str, result: ScriptResult) -> StepError:
        if result.rc == REFUSED:
            return StepError(
                f"{self.title}: refused: {_detail(result)}",
                "fix the cause named above, then re-run (every step checks first)",
            )
        why = {TIMED_OUT: "timed out", NO_RC: "gave no exit code"}.get(
            result.rc, f"failed with exit code {result.rc}"
        )
        text = f"{self.title}: the {phase} script {why}: {_detail(result)}"
        if result.stderr.strip():
            text += f"\n  stderr: {_tail(result.stderr)}"
        return StepError(
            text, "see the output above; every step checks first, so re-run once the cause is fixed"
        )


class GuestScriptStep(_GuestStep):
    """One recipe step: check/apply/verify/rollback are its scripts, run by ctx.runner."""

    kind = "guest-script"
    batch = "guest-script"

    def read_script(self) -> str:
        return script_text(self.recipe, self.spec, "check", self.choices)

    def actions(self) -> list[Action]:
        spec = self.spec
        note = (
            f"runs in the guest as root; secrets as variables: {', '.join(spec.secrets)} "
            "(Run Command: a managed run command's protected parameters, deleted after the run)"
            if spec.secrets
            else "runs in the guest as root"
        )
        text = script_text(self.recipe, spec, "apply", self.choices)
        return [ScriptAction(text, "apply", spec.secrets, note)]

    async def _phase(self, ctx: Context, phase: str, *, timeout: float = 900) -> ScriptResult:
        # Secrets go to the apply script only: the fewer requests carry them, the better.
        spec = self.spec
        secrets = spec.secrets if phase == "apply" else ()
        # check and verify only read: safe to send again after a 5xx or a dropped connection.
        return await self._execute(
            ctx,
            script_text(self.recipe, spec, phase, self.choices),
            secrets,
            required=bool(secrets),
            timeout=timeout,
            read_only=phase in READ_ONLY_PHASES,
        )

    async def check(self, ctx: Context) -> Outcome:
        result = await self._phase(ctx, "check")
        facts: dict[str, Any] = {**parse_facts(result.stdout), "rc": result.rc}
        if result.rc in (DONE, NEEDED):
            return Outcome(result.rc == DONE, _detail(result), facts)
        raise self._failure("check", result)

    async def apply(self, ctx: Context, before: Outcome) -> None:
        timeout = float(self.params.get("timeout", 3600))
        result = await self._phase(ctx, "apply", timeout=timeout)
        if result.rc != DONE:
            raise self._failure("apply", result)

    async def verify(self, ctx: Context) -> Outcome:
        return self._verified(await self._phase(ctx, "verify"))

    @property
    def accepts_pending(self) -> bool:
        """Its verify may say NEEDED until the reboot that the plan has ahead."""
        return bool(self.params.get("after_reboot") and self.params.get("reboot_follows"))

    def _verified(self, result: ScriptResult) -> Outcome:
        facts: dict[str, Any] = {**parse_facts(result.stdout), "rc": result.rc}
        if result.rc == DONE:
            return Outcome(True, _detail(result), facts)
        if result.rc != NEEDED:
            raise self._failure("verify", result)
        if self.accepts_pending and facts.get("reboot_pending", "") not in ("no", "0", "false"):
            return Outcome(
                True,
                f"expected until the reboot: {_detail(result)}",
                {**facts, "reboot_pending": True},
            )
        return Outcome(False, _detail(result), facts)

    # ---- one script for several steps (guest/batch.py)
    def batch_parts(self, before: Outcome) -> list[Part]:
        """Check, apply, verify when the step is needed; only its check (which must still
        hold) when it held before the batch."""
        check = Part(
            f"{self.id}/check", self.read_script(), go_on=(DONE,) if before.done else (DONE, NEEDED)
        )
        if before.done:
            return [check]
        spec = self.spec
        return [
            check,
            Part(
                f"{self.id}/apply",
                script_text(self.recipe, spec, "apply", self.choices),
                "needed",
                (DONE,),
                tuple(secret_var(name) for name in spec.secrets),
            ),
            Part(
                f"{self.id}/verify",
                script_text(self.recipe, spec, "verify", self.choices),
                "done",
                (DONE, NEEDED) if self.accepts_pending else (DONE,),
            ),
        ]

    @classmethod
    async def apply_batch(
        cls, ctx: Context, todo: Sequence[tuple[Step, Outcome]], later: Sequence[Step]
    ) -> list[BatchOutcome]:
        steps = [(s, b) for s, b in todo if isinstance(s, GuestScriptStep)]
        if len(steps) != len(todo) or not steps:
            raise TypeError("apply_batch takes guest-script steps only")
        parts = [part for step, before in steps for part in step.batch_parts(before)]
        needed = [step for step, before in steps if not before.done]
        secrets = tuple(dict.fromkeys(name for step in needed for name in step.spec.secrets))
        from fipswizard.guest.runners import secret_env

        env = secret_env(secrets, ctx.secrets, required=True)
        timeout = min(RUN_COMMAND_MAX, sum(float(s.params.get("timeout", 3600)) for s in needed))
        first = steps[0][0]
        script, reads = fitting("change", parts, read_parts(later), first.recipe.prelude)
        result = await ctx.need_runner().run(
            script, env=env, timeout=timeout, read_only=False, progress=ctx.progress
        )
        batch = parse_batch(result)
        remember(ctx, reads, batch)
        outcomes: list[BatchOutcome] = []
        for step, before in steps:
            if outcomes and outcomes[-1].status in ("failed", "not-run"):
                outcomes.append(BatchOutcome("not-run", "the batch stopped before it"))
            else:
                outcomes.append(await step._batch_outcome(ctx, before, batch))
        return outcomes

    async def _batch_outcome(
        self, ctx: Context, before: Outcome, batch: BatchResult
    ) -> BatchOutcome:
        check, apply, verify = (batch.get(f"{self.id}/{p}") for p in ("check", "apply", "verify"))
        lines = tuple(
            ln for r in (check, apply, verify) if r for ln in r.stdout.splitlines() if ln.strip()
        )
        try:
            if check is None:
                return await self._lost(ctx, before, lines, batch)
            if check.rc == DONE:
                return BatchOutcome("held", _detail(check.script_result()), lines)
            if before.done and check.rc == NEEDED:  # changed since it was read: run it alone
                return BatchOutcome("not-run", _detail(check.script_result()), lines)
            if check.rc != NEEDED:
                raise self._failure("check", check.script_result(batch.stderr))
            if apply is None:
                return await self._lost(ctx, before, lines, batch)
            if apply.rc != DONE:
                raise self._failure("apply", apply.script_result(batch.stderr))
            if verify is None:
                return await self._lost(ctx, before, lines, batch)
            after = self._verified(verify.script_result(batch.stderr))
            if not after.done:
                raise StepError(f"{self.title}: verification failed: {after.detail}")
            return BatchOutcome("applied", after.detail, lines, after)
        except FipsWizardError as err:
            return BatchOutcome("failed", err.headline(), lines, error=err)

    async def _lost(
        self, ctx: Context, before: Outcome, lines: tuple[str, ...], batch: BatchResult
    ) -> BatchOutcome:
        """The batch's answer for this step did not come back (output cut, script killed or
        timed out): its own check, run alone, says where it stands. The scripts check before
        they change, so running the step again later repeats nothing that was done."""
        why = f"exit code {batch.rc}" if batch.rc else "its output was cut"
        ctx.progress(f"{self.id}: the batch's answer was lost ({why}): checking it alone")
        now = await self.check(ctx)
        if not now.done:
            return BatchOutcome("not-run", now.detail, lines)
        if before.done:  # it held before the batch and still does: nothing was changed
            return BatchOutcome("held", now.detail, lines)
        return BatchOutcome("applied", f"holds (checked alone): {now.detail}", lines, now)

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        spec = self.spec
        if spec.rollback_refused:
            raise StepError(
                f"{self.title}: rollback refused: {spec.rollback_refused}",
                "restore the VM from a snapshot or backup instead",
            )
        if not spec.rollback.strip():
            return "the recipe defines no rollback for this step: nothing undone"
        result = await self._phase(ctx, "rollback", timeout=float(self.params.get("timeout", 3600)))
        if result.rc != DONE:
            raise self._failure("rollback", result)
        return _detail(result) if parse_facts(result.stdout) else "rolled back"


class RebootStep(_GuestStep):
    """Reboot the guest (ARM restart, or `systemctl reboot` locally) and wait until Ready."""

    kind = "guest-reboot"

    @property
    def vm(self) -> str:
        return str(self.params.get("vm") or TargetKey.parse(self.target).vm)

    def confirmation(self) -> str:
        if self.params.get("reboot") == "reallocate":
            return (
                f"Deallocate and start VM '{self.vm}' ({self.target}) now, instead of a restart: "
                "one boot that also issues the new certificate package. Cost: "
                f"{COSTS['reallocate']}; running workloads stop."
            )
        return (
            f"Reboot VM '{self.vm}' ({self.target}) now? Downtime: about 1-5 minutes while "
            "it restarts and the guest agent comes back; running workloads stop."
        )

    def _script(self, phase: str, snippet: str) -> str:
        return wrap_snippet(self.recipe, "engine", "reboot", phase, snippet)

    def _api(self, ctx: Context | None = None) -> str:
        settings = ctx.settings if ctx is not None else Settings()
        return str(self.params.get("api") or settings.compute_api)

    def calls(self, vm_path: str, api: str) -> list[ArmCall]:
        """The requests of an ARM reboot, built once: the preview renders them, apply sends
        them. The agent wait is the agent step's (azure/steps_vm.wait_for_agent). In one-boot
        mode (param reboot = "reallocate") the restart is the reallocate fix's deallocate and
        start."""
        fix = _reallocation(self, vm_path, api)
        restart = ArmCall(
            "POST", f"{vm_path}/restart", api, note="sent once; then wait for the operation"
        )
        return [
            vm_read(
                vm_path,
                api,
                note="the agent's status time: a Ready from before the restart does not count",
            ),
            *(fix.calls()[:2] if fix is not None else [restart]),
            vm_read(vm_path, api, note="poll until the agent is Ready again and the VM running"),
        ]

    def actions(self) -> list[Action]:
        if self.params.get("local"):
            return [
                ScriptAction(
                    self._script("apply", REBOOT_LOCAL), "apply", note="reboots this machine"
                )
            ]
        endpoint, vm_path = self.params.get("endpoint"), self.params.get("vm_path")
        if not endpoint or not vm_path:  # a preview without a resolved VM: the paths only
            path = vm_path or "{vm}"
            return [
                HttpAction(c.method, c.path, c.body, c.note)
                for c in self.calls(str(path), self._api())
            ]
        return [c.action(str(endpoint)) for c in self.calls(str(vm_path), self._api())]

    def read_script(self) -> str:
        return self._script("check", REBOOT_CHECK)

    def _after_reboot_specs(self) -> list[GuestStepSpec]:
        return [s for s in self.recipe.steps if s.after_reboot and not s.is_reboot]

    async def _post_reboot_checks(
        self, ctx: Context, *, clear: bool = False
    ) -> tuple[bool, str, dict[str, Any]]:
        """One Run Command: every after-reboot step's verify, then (with `clear`) the marker's
        removal, and the read-ahead for the steps after the reboot (guest validation).
        (passed, detail, facts of the clearing)."""
        specs = self._after_reboot_specs()
        verifies = [
            Part(
                f"{spec.recipe}.{spec.id}/verify",
                script_text(self.recipe, spec, "verify", self.choices),
                go_on=(DONE,),
            )
            for spec in specs
        ]
        ending = Part(f"{self.id}/clear", self._script("verify", REBOOT_CLEAR), go_on=(DONE,))
        parts = [*verifies, ending] if clear else verifies
        script, reads = fitting(
            "after-reboot", parts, read_parts(later_steps(ctx, self)), self.recipe.prelude
        )
        result = await ctx.need_runner().run(
            script, timeout=900, read_only=not clear, progress=ctx.progress
        )
        batch = parse_batch(result)
        remember(ctx, reads, batch)
        for part in parts:
            got = batch.get(part.name)
            if got is None:
                raise StepError(
                    f"{self.title}: no answer from {part.name} (the Run Command's "
                    f"output was cut or it ended with exit code {result.rc})",
                    "run the same command again: the checks are read-only and the run resumes",
                )
            _say(ctx, got.stdout)
            if got.rc == NEEDED and part is not ending:
                step_id = part.name.rsplit("/", 1)[0]
                return False, f"after the reboot, {step_id}: {_detail(got.script_result())}", {}
            if got.rc != DONE:
                raise self._failure("verify", got.script_result(batch.stderr))
        facts = parse_facts(batch.parts[ending.name].stdout) if clear else {}
        return True, f"{len(specs)} after-reboot check(s) pass", facts

    async def check(self, ctx: Context) -> Outcome:
        result = await self._execute(ctx, self._script("check", REBOOT_CHECK), read_only=True)
        facts: dict[str, Any] = {**parse_facts(result.stdout), "rc": result.rc}
        if result.rc == NEEDED:
            return Outcome(False, _detail(result), facts)
        if result.rc != DONE:
            raise self._failure("check", result)
        if facts.get("rebooted") != "1":
            return Outcome(True, _detail(result), facts)
        ok, detail, _ = await self._post_reboot_checks(ctx)
        if not ok:
            raise StepError(
                f"{self.title}: the VM has rebooted, but {detail}",
                "look at the step's output; FIPS mode did not take effect at boot",
            )
        return Outcome(True, f"already rebooted; {detail}", facts)

    async def apply(self, ctx: Context, before: Outcome) -> None:
        if ctx.arm is None:
            await self._reboot_locally(ctx)
            return
        vm_path = str(self.params.get("vm_path") or _need_target(ctx).vm_path)
        calls = self.calls(vm_path, self._api(ctx))
        first_read, restart, poll = calls[0], calls[1], calls[-1]
        read = await first_read.send(ctx)
        stale = vm_facts(read.body, read.etag, f"VM {self.vm}").agent_time
        fix = _reallocation(self, vm_path, self._api(ctx))
        if fix is not None:
            ctx.progress(
                f"deallocating and starting VM {self.vm}: one boot that also issues the new "
                "certificate package"
            )
            await fix.power_cycle(ctx)  # the same requests as calls()[1:3]
        else:
            ctx.progress(f"restarting VM {self.vm}")
            try:
                # Not retry-safe: a restart resent after a dropped connection could reboot twice.
                await restart.send(ctx, retry_safe=False)
            except ArmError as err:
                if err.code != "ConnectionLost":
                    raise
                # Azure may have it: never resend; the agent's fresh status shows the reboot.
                ctx.progress(
                    f"the connection dropped after the restart of VM {self.vm} was sent; "
                    "not sending it again: watching the instance view for the reboot"
                )
        timeout = ctx.settings.reboot_timeout

        def failure(vm: VmFacts, waited: float) -> StepError:
            return StepError(
                f"VM {self.vm} did not come back Ready within {timeout:.0f}s after the reboot "
                f"(agent {vm.agent_status} {vm.agent_version}, power {vm.power_state})",
                AGENT_ADVICE,
            )

        vm = await wait_for_agent(
            ctx, poll, f"VM {self.vm}", timeout, failure, after_restart=True, stale=stale
        )
        ctx.progress(f"VM {self.vm} is running and its agent ({vm.agent_version}) is Ready")

    async def recover(self, ctx: Context, undo: dict[str, Any]) -> str | None:
        """A reboot begun and not finished, the VM found not running: the one-boot mode was
        killed between the deallocate and the start. Start it (the reallocate fix's own
        recovery), whatever this plan's mode: a resumed run finds the flag on and plans a
        restart. A running VM needs nothing: Azure finishes a restart or a start by itself."""
        vm_path = self.params.get("vm_path")
        if not vm_path or self.params.get("local") or ctx.arm is None:
            return None
        fix = _reallocate_fix(self, str(vm_path), self._api(ctx))
        if (await fix.read_vm(ctx)).power_state == "running":
            return None
        # Unless check journalled it, the VM was running: check runs a guest script (Run
        # Command answers only from a running VM) and the engine journals after check.
        return await fix.recover(ctx, {"power_before": undo.get("power_before", "running")})

    async def _reboot_locally(self, ctx: Context) -> None:
        ctx.progress(
            "rebooting this machine now; run the same command again once it is back "
            "to finish the after-reboot checks"
        )
        result = await self._execute(ctx, self._script("apply", REBOOT_LOCAL))
        if result.rc != DONE:
            raise self._failure("reboot", result)
        await ctx.sleep(ctx.settings.reboot_timeout)  # the reboot ends this process
        raise StepError(
            "`systemctl reboot` returned but the machine did not go down",
            "reboot it by hand, then run the same command again",
        )

    async def rollback(self, ctx: Context, undo: dict[str, Any]) -> str:
        """Rollback runs this after undoing the recipe's changes: reboot if they need it and
        the rollback's gate approved it (asked "if needed" before the first write)."""
        result = await self._execute(ctx, self._script("check", REBOOT_CHECK), read_only=True)
        if result.rc != NEEDED:
            return "no reboot needed"
        if (self.target, self.id) not in ctx.approved:
            raise StepError(
                "reboot declined: the rolled-back changes take effect at the next reboot",
                "reboot the VM, then run the same rollback again",
            )
        await self.apply(ctx, Outcome(False, "rollback"))
        cleared = await self._execute(ctx, self._script("verify", REBOOT_CLEAR))
        if cleared.rc != DONE:
            raise self._failure("verify", cleared)
        return "rebooted so that the rolled-back changes take effect"

    async def verify(self, ctx: Context) -> Outcome:
        ok, detail, facts = await self._post_reboot_checks(ctx, clear=True)
        if not ok:
            return Outcome(False, detail)
        return Outcome(True, f"rebooted; {detail}", facts)


def later_steps(ctx: Context, step: Step) -> list[Step]:
    """The steps of the unit after `step` (what a Run Command may read ahead for)."""
    ids = [s.id for s in ctx.unit_steps]
    return list(ctx.unit_steps[ids.index(step.id) + 1 :]) if step.id in ids else []


def _reallocate_fix(step: RebootStep, vm_path: str, api: str) -> ReallocateFix:
    """The reallocate fix for the reboot's VM: its requests and its recovery are the one-boot
    mode's (issue 9), so the deallocate + start is defined once."""
    params = {"endpoint": step.params.get("endpoint", ""), "api": api, "vm_path": vm_path}
    return ReallocateFix(step.target, step.title, Risk.DISRUPTIVE, params)


def _reallocation(step: RebootStep, vm_path: str, api: str) -> ReallocateFix | None:
    """One-boot mode (param reboot = "reallocate"): the fix whose deallocate + start replaces
    the restart. None for a plain restart (and locally: nothing to deallocate from inside)."""
    if step.params.get("reboot") != "reallocate" or step.params.get("local"):
        return None
    return _reallocate_fix(step, vm_path, api)


def _need_target(ctx: Context) -> Target:
    if ctx.target is None:
        raise StepError("the reboot step has no target VM")
    return ctx.target


def guest_steps(
    recipe: GuestRecipe,
    target: Target | str,
    *,
    base: dict[str, Any] | None = None,
    local: bool = False,
    flatcar_extensions: str = FLATCAR_EXTENSIONS[0],
) -> list[Step]:
    """The recipe's steps for one VM, in order; `base` adds endpoint/api/vm_path for previews.
    `flatcar_extensions` is the run recipe's choice (a default one is not stored)."""
    key = target.key if isinstance(target, Target) else target
    extra: dict[str, Any] = {}
    if Path(recipe.path).parent != Path(str(recipe_dir())):
        extra["recipe_dir"] = str(Path(recipe.path).parent)  # recipes outside the package
    if flatcar_extensions != FLATCAR_EXTENSIONS[0]:
        extra["flatcar_extensions"] = flatcar_extensions
    reboots = [i for i, s in enumerate(recipe.steps) if s.is_reboot]
    steps: list[Step] = []
    for index, spec in enumerate(recipe.steps):
        common = {"id": f"{spec.recipe}.{spec.id}", "recipe": recipe.id, "step": spec.id, **extra}
        if spec.is_reboot:
            params: dict[str, Any] = {
                **(base or {}),
                **common,
                "local": local,
                "vm": target.vm if isinstance(target, Target) else TargetKey.parse(key).vm,
            }
            if isinstance(target, Target):
                params.setdefault("vm_path", target.vm_path)
            steps.append(RebootStep(key, spec.title, Risk(spec.risk), params))
        else:
            params = {
                **common,
                "secrets": list(spec.secrets),
                "after_reboot": spec.after_reboot,
                "rollback_after_reboot": spec.rollback_after_reboot,
                "reboot_follows": any(r > index for r in reboots),
            }
            steps.append(GuestScriptStep(key, spec.title, Risk(spec.risk), params))
    return steps
