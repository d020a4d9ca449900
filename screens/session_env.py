"""Where a wizard session gets its options, base recipe, journal and file locations."""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path

from fipswizard.engine.journal import Journal
from fipswizard.recipe import Recipe
from fipswizard.session import Options


@dataclass
class WizardSession:
    opts: Options
    workdir: Path
    base: Recipe | None = None
    expected: dict[str, str] | None = None
    endpoint_hint: str = ""  # shown in the replay command after a save
    stamp: str = field(default_factory=lambda: time.strftime("%Y%m%d-%H%M%S"))

    def journal_for(self, recipe: Recipe) -> Path:
        """The recipe file's journal (the one `apply` uses; the demo's too), or a new one."""
        if recipe.path and Path(recipe.path).is_file():
            return Journal.default_for(recipe.path)
        return self.workdir / f"fipswizard-{self.stamp}.journal.jsonl"

    @property
    def save_default(self) -> Path:
        return self.workdir / "fips-recipe.toml"

    def replay_hint(self, path: Path) -> str:
        """The command that replays the saved recipe, runnable as printed: the endpoint when it
        is not the recipe cloud's own, and the credential it needs."""
        import shlex

        from fipswizard.demo_env import DEMO_TOKEN

        argv = ["fipswizard"]
        endpoint = self.endpoint_hint or self.opts.arm_endpoint
        if endpoint:
            argv += ["--arm-endpoint", endpoint]
        command = shlex.join([*argv, "apply", str(path), "--yes"])
        if self.endpoint_hint:  # the demo's simulated Azure takes its own made-up token
            return f"saved {path}; replay it with: FIPSWIZARD_ACCESS_TOKEN={DEMO_TOKEN} {command}"
        return (
            f"saved {path}; replay it with: {command}  (credential: FIPSWIZARD_ACCESS_TOKEN "
            "or `az login`)"
        )


async def open_session(
    stack: AsyncExitStack, *, demo: bool, opts: Options | None, workdir: Path | None
) -> WizardSession:
    """A demo session starts the simulated Azure (closed with the stack); else use `opts`."""
    if not demo:
        return WizardSession(opts or Options(), workdir or Path.cwd())
    from fipswizard.demo_env import demo_environment

    env = await stack.enter_async_context(demo_environment(workdir))
    return WizardSession(
        env.opts, env.recipe_path.parent, env.recipe, dict(env.expected), env.endpoint
    )
