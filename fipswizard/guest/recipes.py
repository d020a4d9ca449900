"""Guest recipe files (`recipes/guest/<id>.toml`): load, validate, resolve includes, build scripts.

The file format is the shared guest format. Rules this module adds (guest-recipes relies on them):

- `include = ["agent"]` inserts the named recipes' steps just before this recipe's first reboot
  step (appended when it has none). An included step keeps its *origin* recipe: the marker line
  and the plan step id name the recipe that defines it (`agent/auto-update/apply`).
- `when` is a shell condition run in a subshell before every phase snippet; when it fails the
  script prints `not-applicable=<step>` and exits 0 (done / nothing to do / nothing to undo).
- A script is: lib.sh, then `FW_RECIPE=<plan recipe id>` and `FW_SERVICE=<its agent service>`,
  then the marker line `# fipswizard-script: <origin recipe>/<step>/<phase>`, then the snippet.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from fipswizard.engine.steps import Risk
from fipswizard.errors import RecipeError
from fipswizard.guest.protocol import FLATCAR_EXTENSIONS, FLATCAR_EXTENSIONS_VAR, MARKER

PHASES = ("check", "apply", "verify", "rollback")
STEP_KINDS = ("script", "reboot")
TOP_KEYS = ("id", "title", "service", "supported", "notes", "include", "match", "step")
MATCH_KEYS = ("id", "version")
STEP_KEYS = (
    "id",
    "kind",
    "title",
    "risk",
    "secrets",
    "when",
    "check",
    "apply",
    "verify",
    "rollback",
    "rollback_refused",
    "after_reboot",
    "rollback_after_reboot",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_SECRET = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class RecipeMatch:
    os_id: str
    version: str = ""  # a packaging SpecifierSet; "" matches any version

    def holds(self, os_id: str, version: str) -> bool:
        if os_id.lower() != self.os_id:
            return False
        if not self.version:
            return True
        from packaging.specifiers import SpecifierSet  # only when a version is compared
        from packaging.version import InvalidVersion, Version

        try:
            return SpecifierSet(self.version).contains(Version(version), prereleases=True)
        except InvalidVersion:
            return False


@dataclass(frozen=True)
class GuestStepSpec:
    id: str
    title: str
    risk: Risk
    recipe: str  # the recipe file defining this step (differs from the plan's for includes)
    kind: str = "script"
    secrets: tuple[str, ...] = ()
    when: str = ""
    check: str = ""
    apply: str = ""
    verify: str = ""
    rollback: str = ""
    rollback_refused: str = ""
    after_reboot: bool = False
    rollback_after_reboot: bool = False  # undo only once the rollback's reboot left FIPS mode

    @property
    def is_reboot(self) -> bool:
        return self.kind == "reboot"

    def snippet(self, phase: str) -> str:
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; allowed: {', '.join(PHASES)}")
        text: str = getattr(self, phase)
        return text or (self.check if phase == "verify" else "")


@dataclass(frozen=True)
class GuestRecipe:
    id: str
    title: str
    path: str
    service: str = ""
    supported: str = ""
    notes: tuple[str, ...] = ()
    includes: tuple[str, ...] = ()
    matches: tuple[RecipeMatch, ...] = ()
    steps: tuple[GuestStepSpec, ...] = ()
    prelude: str | None = None  # lib.sh beside the recipe file; None when missing

    def step(self, step_id: str) -> GuestStepSpec:
        for spec in self.steps:
            if spec.id == step_id:
                return spec
        known = ", ".join(s.id for s in self.steps)
        raise RecipeError(self.path, "step", "no such step", found=step_id, allowed=known)

    def applies_to(self, os_id: str, version: str) -> bool:
        return any(m.holds(os_id, version) for m in self.matches)


def recipe_dir() -> Traversable:
    return files("fipswizard_recipes") / "guest"


def load_guest_recipe(recipe_id: str, *, base: Path | None = None) -> GuestRecipe:
    """Load and validate one recipe (includes resolved). Cached: recipe files are data."""
    return _load_cached(recipe_id, str(base) if base else "")


def all_guest_recipes(*, base: Path | None = None) -> list[GuestRecipe]:
    """Every recipe in the directory, sorted by id (detection takes the first that matches)."""
    folder = Path(base) if base else recipe_dir()
    ids = sorted(p.name[: -len(".toml")] for p in folder.iterdir() if p.name.endswith(".toml"))
    return [load_guest_recipe(i, base=base) for i in ids]


def clear_cache() -> None:
    _load_cached.cache_clear()


def script_text(
    recipe: GuestRecipe,
    step: GuestStepSpec | str,
    phase: str,
    choices: Mapping[str, str] | None = None,
) -> str:
    """The exact text a runner executes: prelude + variables + marker line + snippet.
    `choices` are the run's non-secret choices as shell variables (see `choice_vars`)."""
    spec = recipe.step(step) if isinstance(step, str) else step
    if spec.is_reboot:
        raise RecipeError(recipe.path, "kind", "a reboot step has no scripts", found=spec.id)
    return wrap_snippet(
        recipe, spec.recipe, spec.id, phase, spec.snippet(phase), spec.when, choices
    )


def choice_vars(flatcar_extensions: str) -> dict[str, str]:
    """The run recipe's guest choices as script variables. Only a choice that differs from
    lib.sh's default is written, so a default run's scripts read as before. Not secrets: they
    travel in the script text and leave the runner's managed/action choice alone."""
    if flatcar_extensions == FLATCAR_EXTENSIONS[0]:
        return {}
    return {FLATCAR_EXTENSIONS_VAR: flatcar_extensions}


def wrap_snippet(
    recipe: GuestRecipe,
    origin: str,
    step_id: str,
    phase: str,
    snippet: str,
    when: str = "",
    choices: Mapping[str, str] | None = None,
) -> str:
    """Compose a script around any snippet (steps.py uses it for the reboot step's scripts)."""
    if recipe.prelude is None:
        lib = str(Path(recipe.path).with_name("lib.sh"))
        raise RecipeError(lib, "lib.sh", "the shared prelude is missing beside the recipe")
    parts = [
        recipe.prelude.rstrip("\n"),
        f"FW_RECIPE={shlex.quote(recipe.id)}",
        f"FW_SERVICE={shlex.quote(recipe.service)}",
        *(f"{name}={shlex.quote(value)}" for name, value in sorted((choices or {}).items())),
        f"{MARKER}{origin}/{step_id}/{phase}",
    ]
    if when.strip():
        parts.append(
            f"if ! (\n{when.strip()}\n) >/dev/null 2>&1; then\n"
            f"  echo 'not-applicable={step_id}'\n  exit 0\nfi"
        )
    parts.append(snippet.strip("\n"))
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- loading and validation


@lru_cache(maxsize=64)
def _load_cached(recipe_id: str, base: str) -> GuestRecipe:
    return _load(recipe_id, base, ())


def _load(recipe_id: str, base: str, stack: tuple[str, ...]) -> GuestRecipe:
    folder: Traversable = Path(base) if base else recipe_dir()
    source = folder / f"{recipe_id}.toml"
    if not _NAME.match(recipe_id) or not source.is_file():
        known = ", ".join(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml")))
        where = stack[-1] if stack else str(folder)
        raise RecipeError(
            where,
            "include" if stack else "id",
            "no such guest recipe",
            found=recipe_id,
            allowed=known or "(none)",
        )
    text = source.read_text(encoding="utf-8")
    lib = folder / "lib.sh"
    prelude = lib.read_text(encoding="utf-8") if lib.is_file() else None
    return _Parser(str(source), text).recipe(recipe_id, base, stack, prelude)


class _Parser:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text
        self.step_lines = self.headers("step")
        self.match_lines = self.headers("match")

    def headers(self, name: str) -> list[int]:
        pattern = rf"^\s*\[\[\s*{name}\s*\]\]"
        return [i + 1 for i, line in enumerate(self.text.splitlines()) if re.match(pattern, line)]

    def line(self, key: str, after: int = 0) -> int | None:
        """The first line at or after `after` that assigns `key` or opens a `[[key]]` table."""
        pattern = rf"^\s*(?:{re.escape(key)}\s*=|\[\[?\s*{re.escape(key)}\s*\]\]?)"
        for number, line in enumerate(self.text.splitlines(), start=1):
            if number >= after and re.match(pattern, line):
                return number
        return None

    def fail(
        self,
        key: str,
        problem: str,
        *,
        after: int = 0,
        found: object = None,
        allowed: str | None = None,
    ) -> RecipeError:
        return RecipeError(
            self.path,
            key,
            problem,
            line=self.line(key, after) or after or None,
            found=found,
            allowed=allowed,
        )

    def recipe(
        self, recipe_id: str, base: str, stack: tuple[str, ...], prelude: str | None
    ) -> GuestRecipe:
        try:
            data = tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as err:
            m = re.search(r"line (\d+)", str(err))
            raise RecipeError(
                self.path, "(syntax)", str(err), line=int(m.group(1)) if m else None
            ) from err
        self.known(data, TOP_KEYS, 0)
        if data.get("id") != recipe_id:
            raise self.fail(
                "id", "must equal the file name", found=data.get("id"), allowed=recipe_id
            )
        title = self.string(data, "title", 0, required=True)
        notes = self.strings(data, "notes", 0)
        matches = tuple(self.match(m, i) for i, m in enumerate(self.tables(data, "match")))
        own = [self.step(s, i, recipe_id) for i, s in enumerate(self.tables(data, "step"))]
        includes = self.strings(data, "include", 0)
        steps = self.with_includes(own, includes, base, (*stack, self.path))
        return GuestRecipe(
            id=recipe_id,
            title=title,
            path=self.path,
            prelude=prelude,
            service=self.string(data, "service", 0),
            supported=self.string(data, "supported", 0),
            notes=notes,
            includes=includes,
            matches=matches,
            steps=tuple(steps),
        )

    def with_includes(
        self, own: list[GuestStepSpec], includes: tuple[str, ...], base: str, stack: tuple[str, ...]
    ) -> list[GuestStepSpec]:
        extra: list[GuestStepSpec] = []
        for name in includes:
            if any(Path(p).name == f"{name}.toml" for p in stack):
                raise self.fail("include", "include cycle", found=name)
            other = _load(name, base, stack)
            if any(s.is_reboot for s in other.steps):
                raise self.fail(
                    "include", "an included recipe must not have a reboot step", found=name
                )
            extra.extend(other.steps)
        seen: set[str] = set()
        for spec in [*own, *extra]:
            if spec.id in seen:
                raise self.fail("include", "step id appears twice after includes", found=spec.id)
            seen.add(spec.id)
        cut = next((i for i, s in enumerate(own) if s.is_reboot), len(own))
        return [*own[:cut], *extra, *own[cut:]]

    def match(self, table: dict[str, Any], index: int) -> RecipeMatch:
        after = self.match_lines[index] if index < len(self.match_lines) else 0
        self.known(table, MATCH_KEYS, after)
        os_id = self.string(table, "id", after, required=True)
        version = self.string(table, "version", after)
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(version)
        except InvalidSpecifier as err:
            raise self.fail(
                "version",
                "not a version specifier",
                after=after,
                found=version,
                allowed='e.g. ">=9.0,<10"',
            ) from err
        return RecipeMatch(os_id.lower(), version)

    def step(self, table: dict[str, Any], index: int, recipe_id: str) -> GuestStepSpec:
        after = self.step_lines[index] if index < len(self.step_lines) else 0
        self.known(table, STEP_KEYS, after)
        step_id = self.string(table, "id", after, required=True)
        if not _NAME.match(step_id):
            raise self.fail("id", "step ids are lower-case words", after=after, found=step_id)
        kind = self.string(table, "kind", after) or "script"
        if kind not in STEP_KINDS:
            raise self.fail(
                "kind", "unknown step kind", after=after, found=kind, allowed=", ".join(STEP_KINDS)
            )
        risk_text = self.string(table, "risk", after, required=True)
        if risk_text not in {r.value for r in Risk}:
            raise self.fail(
                "risk",
                "unknown risk",
                after=after,
                found=risk_text,
                allowed=", ".join(r.value for r in Risk),
            )
        secrets = self.strings(table, "secrets", after)
        for name in secrets:
            if not _SECRET.match(name):
                raise self.fail(
                    "secrets", "secret names are lower_snake_case", after=after, found=name
                )
        flags = {key: table.get(key, False) for key in ("after_reboot", "rollback_after_reboot")}
        for key, value in flags.items():
            if not isinstance(value, bool):
                raise self.fail(key, "must be true or false", after=after, found=value)
        scripts = {k: self.string(table, k, after) for k in (*PHASES, "when", "rollback_refused")}
        if kind == "reboot":
            present = [k for k in (*PHASES, "when") if scripts[k]]
            if present:
                raise self.fail(present[0], "a reboot step has no scripts", after=after)
        else:
            for key in ("check", "apply"):
                if not scripts[key].strip():
                    raise self.fail(
                        key if key in table else "step",
                        f"missing '{key}' script",
                        after=after,
                        found=step_id,
                    )
        return GuestStepSpec(
            id=step_id,
            title=self.string(table, "title", after, required=True),
            risk=Risk(risk_text),
            recipe=recipe_id,
            kind=kind,
            secrets=secrets,
            after_reboot=flags["after_reboot"],
            rollback_after_reboot=flags["rollback_after_reboot"],
            **scripts,
        )

    def known(self, table: dict[str, Any], allowed: tuple[str, ...], after: int) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    key, "unknown key", after=after, found=key, allowed=", ".join(allowed)
                )

    def string(self, table: dict[str, Any], key: str, after: int, *, required: bool = False) -> str:
        value = table.get(key, "")
        if not isinstance(value, str):
            raise self.fail(key, "must be a string", after=after, found=value)
        if required and not value.strip():
            raise self.fail(
                key if key in table else "step" if after else key,
                f"'{key}' is required",
                after=after,
            )
        return value

    def strings(self, table: dict[str, Any], key: str, after: int) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings", after=after, found=value)
        return tuple(value)

    def tables(self, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.fail(key, f"use [[{key}]] tables", found=type(value).__name__)
        return value
