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

from pathlib import Path
from typing import Any

from fipswizard.azure.arm_errors import ArmError
from fipswizard.azure.arm_step import ArmCall, vm_read
from fipswizard.azure.steps_vm import wait_for_agent
from fipswizard.azure.vm_model import VmFacts, vm_facts
from fipswizard.context import Context, ScriptResult, Settings, Target
from fipswizard.engine.steps import Action, HttpAction, Outcome, Risk, ScriptAction, Step
from fipswizard.errors import StepError
from fipswizard.guest.protocol import (
    DONE,
    FLATCAR_EXTENSIONS,
    NEEDED,
    NO_RC,
    REBOOT_MARK,
    REFUSED,
    TIMED_OUT,
    parse_facts,
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
from fipswizard.guest.runners import secret_env
from fipswizard.versions import MIN_AGENT

READ_ONLY_PHASES = ("check", "verify")
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
        env = secret_env(secrets, ctx.secrets, required=required)
        result = await ctx.need_runner().run(
            text, env=env, timeout=timeout, read_only=read_only, progress=ctx.progress
        )
        for line in result.stdout.splitlines():
            if line.strip():
                ctx.progress(line.rstrip())
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
        result = await self._phase(ctx, "verify")
        facts: dict[str, Any] = {**parse_facts(result.stdout), "rc": result.rc}
        if result.rc == DONE:
            return Outcome(True, _detail(result), facts)
        if result.rc != NEEDED:
            raise self._failure("verify", result)
        pending = bool(self.params.get("reboot_follows")) and facts.get(
            "reboot_pending", ""
        ) not in ("no", "0", "false")
        if self.params.get("after_reboot") and pending:
            return Outcome(
                True,
                f"expected until the reboot: {_detail(result)}",
                {**facts, "reboot_pending": True},
            )
        return Outcome(False, _detail(result), facts)

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
        return str(self.params.get("vm") or self.target.rsplit("/", 1)[-1])

    def confirmation(self) -> str:
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
        them. The agent wait is the agent step's (azure/steps_vm.wait_for_agent)."""
        return [
            vm_read(
                vm_path,
                api,
                note="the agent's status time: a Ready from before the restart does not count",
            ),
            ArmCall(
                "POST", f"{vm_path}/restart", api, note="sent once; then wait for the operation"
            ),
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

    def _after_reboot_specs(self) -> list[GuestStepSpec]:
        return [s for s in self.recipe.steps if s.after_reboot and not s.is_reboot]

    async def _post_reboot_checks(self, ctx: Context) -> tuple[bool, str]:
        for spec in self._after_reboot_specs():
            text = script_text(self.recipe, spec, "verify", self.choices)
            result = await self._execute(ctx, text, read_only=True)
            if result.rc == NEEDED:
                return False, f"after the reboot, {spec.recipe}.{spec.id}: {_detail(result)}"
            if result.rc != DONE:
                raise self._failure("verify", result)
        return True, f"{len(self._after_reboot_specs())} after-reboot check(s) pass"

    async def check(self, ctx: Context) -> Outcome:
        result = await self._execute(ctx, self._script("check", REBOOT_CHECK), read_only=True)
        facts: dict[str, Any] = {**parse_facts(result.stdout), "rc": result.rc}
        if result.rc == NEEDED:
            return Outcome(False, _detail(result), facts)
        if result.rc != DONE:
            raise self._failure("check", result)
        if facts.get("rebooted") != "1":
            return Outcome(True, _detail(result), facts)
        ok, detail = await self._post_reboot_checks(ctx)
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
        first_read, restart, poll = self.calls(vm_path, self._api(ctx))
        read = await first_read.send(ctx)
        stale = vm_facts(read.body, read.etag, f"VM {self.vm}").agent_time
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
        ok, detail = await self._post_reboot_checks(ctx)
        if not ok:
            return Outcome(False, detail)
        result = await self._execute(ctx, self._script("verify", REBOOT_CLEAR))
        if result.rc != DONE:
            raise self._failure("verify", result)
        return Outcome(True, f"rebooted; {detail}", parse_facts(result.stdout))


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
                "vm": target.vm if isinstance(target, Target) else key.rsplit("/", 1)[-1],
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
