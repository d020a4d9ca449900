"""Run recipe phases in a bubblewrap fake root, and the step contract every bwrap test checks.

The script text is exactly what the engine sends (`recipes.script_text`); only test knobs that
the format allows from the environment (FW_AGENT_WAIT / FW_AGENT_POLL) are prepended.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fipswizard.context import ScriptResult
from fipswizard.guest.recipes import GuestRecipe, load_guest_recipe, script_text
from fipswizard.guest.runners import secret_env
from fipswizard.secrets import Secret

from .fakeroots import FakeRoot, changed, digest, simulate_reboot

DONE, NEEDED, REFUSED = 0, 10, 20
REBOOT_MARK = "var/lib/fipswizard/reboot-required"
FAST_AGENT_WAIT = "export FW_AGENT_WAIT=3 FW_AGENT_POLL=0.2\n"


@dataclass
class Guest:
    fake: FakeRoot
    recipe_id: str
    secrets: dict[str, str] = field(default_factory=dict)  # secret name -> value
    prefix: str = FAST_AGENT_WAIT

    @property
    def recipe(self) -> GuestRecipe:
        return load_guest_recipe(self.recipe_id)

    def script(self, step: str, phase: str) -> str:
        return script_text(self.recipe, step, phase)

    async def run(self, step: str, phase: str) -> ScriptResult:
        spec = self.recipe.step(step)
        available = {k: Secret(v, k) for k, v in self.secrets.items()}
        env = secret_env(spec.secrets, available, required=False)
        return await self.fake.runner().run(
            self.prefix + self.script(step, phase), env=env, timeout=120
        )

    async def check(self, step: str) -> ScriptResult:
        return await self.run(step, "check")

    async def apply(self, step: str) -> ScriptResult:
        return await self.run(step, "apply")

    async def verify(self, step: str) -> ScriptResult:
        return await self.run(step, "verify")

    async def rollback(self, step: str) -> ScriptResult:
        return await self.run(step, "rollback")

    async def applied(self, *steps: str) -> None:
        """Apply steps that a test needs done first (each must succeed)."""
        for step in steps:
            res = await self.apply(step)
            assert res.rc == DONE, f"{step} apply: rc={res.rc}\n{res.stdout}{res.stderr}"

    def reboot(self) -> str:
        return simulate_reboot(self.fake)


def show(res: ScriptResult) -> str:
    return f"rc={res.rc}\n--- stdout\n{res.stdout}--- stderr\n{res.stderr}"


async def assert_step_contract(
    guest: Guest,
    step: str,
    *,
    rollback_leftovers: frozenset[str] | None = frozenset(),
    after_rollback: int = NEEDED,
) -> dict[str, str]:
    """fresh check says needed; apply; check says done; a second apply changes no byte;
    rollback (when `rollback_leftovers` is not None) restores every byte except those paths
    (and the reboot-required marker), after which check says `after_rollback`. Returns the
    digest taken after the first apply."""
    root = guest.fake.path
    fresh = digest(root)
    res = await guest.check(step)
    assert res.rc == NEEDED, f"{step} check on a fresh root: {show(res)}"
    assert digest(root) == fresh, f"{step} check changed files: {changed(fresh, digest(root))}"
    res = await guest.apply(step)
    assert res.rc == DONE, f"{step} apply: {show(res)}"
    res = await guest.check(step)
    assert res.rc == DONE, f"{step} check after apply: {show(res)}"
    after = digest(root)
    res = await guest.apply(step)
    assert res.rc == DONE, f"{step} second apply: {show(res)}"
    assert digest(root) == after, f"second apply changed {changed(after, digest(root))}"
    if rollback_leftovers is not None:
        res = await guest.rollback(step)
        assert res.rc == DONE, f"{step} rollback: {show(res)}"
        diff = changed(fresh, digest(root)) - {REBOOT_MARK, "var/lib/fipswizard"}
        assert diff == set(rollback_leftovers), f"{step} rollback left {sorted(diff)}"
        res = await guest.check(step)
        assert res.rc == after_rollback, f"{step} check after rollback: {show(res)}"
    return after
