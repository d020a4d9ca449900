"""The recipe: a TOML file naming the targets and the choices, replayed by `apply`.

Secrets are never in a recipe: `[secrets]` says where each comes from (`env:NAME` or
`file:PATH`). Every error names the file, the line (found by searching the text, since
tomllib does not report positions), the key, what was found (abbreviated: a 100 KB value
is not echoed) and what is allowed. A recipe is untrusted data: every value is type-checked
strictly (`true` is not 1), names are matched whole (a trailing newline is not a name) and no
problem ends in a traceback.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from fipswizard.azure.clouds import resolve_cloud
from fipswizard.context import Target
from fipswizard.errors import BadInput, RecipeError, RecipeProblems
from fipswizard.guest.protocol import FLATCAR_EXTENSIONS
from fipswizard.versions import COMPUTE_API

VERSION = 1
CLOUDS = ("AzureCloud", "AzureUSGovernment", "custom")
FIXES = ("reallocate", "keyvault", "none")
# How the guest reboot is done (issue 9): "reallocate" makes it a deallocate + start, which also
# issues the new certificate package, so one boot does what a restart and the fix do in two.
REBOOTS = ("restart", "reallocate")
FEATURE_MODES = ("register", "skip")
# Reads (discovery, the plan's state) at once when the recipe sets no concurrency: many more
# only slow the first write (benchmarks/apply_fleet.py); writes take session.default_concurrency.
DEFAULT_READS = 8
SECRET_NAMES = ("pro_token", "tuxcare_key")
DEFAULT_SECRET_SOURCES = {
    "pro_token": "env:FIPSWIZARD_PRO_TOKEN",
    "tuxcare_key": "env:FIPSWIZARD_TUXCARE_KEY",
}
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.()-]{0,89}$")
_VM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Patterns are applied with fullmatch: `$` alone would accept a trailing newline.
# A guest recipe id names a file (recipes/guest/<id>.toml): bounded well under NAME_MAX.
_GUEST = re.compile(r"^(auto|none|[a-z0-9][a-z0-9-]{0,63})$")
_API = re.compile(r"^\d{4}-\d{2}-\d{2}(-preview)?$")
_DECLINE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # a step id or a step kind
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_BYTES = 1024 * 1024  # a recipe names VMs and choices: anything larger is not one
MAX_VALUE = 2048  # longest string value accepted (URLs, paths, reasons)
SHOWN = 80  # how much of a bad value an error message echoes

TOP_KEYS = {
    "version",
    "cloud",
    "guest",
    "fix",
    "reboot",
    "feature",
    "concurrency",
    "validate",
    "custom_cloud",
    "keyvault",
    "secrets",
    "target",
    "compute_api",
    "selector",
    "flatcar_extensions",
}
TARGET_KEYS = {
    "subscription",
    "resource_group",
    "vm",
    "guest",
    "skip",
    "decline",
    "flatcar_extensions",
}
CUSTOM_KEYS = {"arm_endpoint", "authority", "ca_bundle", "scope"}
KEYVAULT_KEYS = {"vault_id", "certificate_url"}


def brief(value: object, limit: int = SHOWN) -> str:
    """`repr(value)` cut to `limit` characters: error messages never echo a huge value."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}\u2026 ({len(text)} characters)"


class _Shown:
    """A value as error messages show it (RecipeError prints `found` with repr)."""

    def __init__(self, value: object) -> None:
        self.text = brief(value)

    def __repr__(self) -> str:
        return self.text


@dataclass(frozen=True)
class RecipeTarget:
    target: Target
    guest: str  # auto | none | a guest recipe id
    # The operator (or the TUI) left this VM out, e.g. refused at preflight: the reason.
    skip: str | None = None
    # Step ids or step kinds the operator declined for this VM (e.g. "guest-reboot").
    decline: tuple[str, ...] = ()
    # Flatcar only: "update-agent" turns the agent's auto-update on (Azure's FIPS 140-3
    # extension support needs agent 2.14.0.1+); "accept-unsupported" leaves the agent as
    # Flatcar ships it: guest FIPS without extension support. Reaches the guest scripts as
    # FW_FLATCAR_EXTENSIONS (not a secret: in the script text) and the probe's preflight.
    flatcar_extensions: str = FLATCAR_EXTENSIONS[0]


@dataclass(frozen=True)
class Recipe:
    targets: tuple[RecipeTarget, ...]
    cloud: str = "AzureCloud"
    guest: str = "auto"
    fix: str = "reallocate"
    reboot: str = "restart"  # REBOOTS; "reallocate" needs fix = "reallocate"
    feature: str = "register"
    concurrency: int | None = None  # None: chosen from the fleet at run time (session.py)
    validate: bool = True
    custom_cloud: dict[str, str] = field(default_factory=dict)
    keyvault: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SECRET_SOURCES))
    compute_api: str = COMPUTE_API
    # How the targets were chosen (fipswizard/azure/selection.py): recorded so plan/apply can
    # say when it would now select a different set; the targets stay the frozen list.
    selector: dict[str, Any] = field(default_factory=dict)
    flatcar_extensions: str = FLATCAR_EXTENSIONS[0]  # the default of every target
    path: str = "<recipe>"

    @property
    def subscriptions(self) -> list[str]:
        return sorted({t.target.subscription for t in self.targets})


class _Checker:
    """Validates one parsed document, reporting positions in the original text."""

    def __init__(self, path: str, text: str) -> None:
        self.path, self.lines = path, text.splitlines()

    def line_of(self, key: str, occurrence: int = 0) -> int | None:
        pattern = re.compile(rf"^\s*(\[\[?)?\s*{re.escape(key)}\s*(=|\]\]?)")
        hits = [n for n, line in enumerate(self.lines, 1) if pattern.search(line)]
        return hits[min(occurrence, len(hits) - 1)] if hits else None

    def fail(
        self,
        key: str,
        problem: str,
        *,
        found: object = None,
        allowed: str | None = None,
        leaf: str | None = None,
        occurrence: int = 0,
    ) -> RecipeError:
        line = self.line_of(leaf or key.split(".")[-1].split("[")[0], occurrence)
        shown = None if found is None else _Shown(found)
        return RecipeError(self.path, key, problem, line=line, found=shown, allowed=allowed)

    def unknown(self, table: dict[str, Any], allowed: set[str], prefix: str, occ: int = 0) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{brief(key, SHOWN)[1:-1]}",
                    "unknown key",
                    allowed=", ".join(sorted(allowed)),
                    leaf=key,
                    occurrence=occ,
                )

    def choice(self, doc: dict[str, Any], key: str, options: tuple[str, ...], default: str) -> str:
        value = doc.get(key, default)
        if not isinstance(value, str) or value not in options:
            raise self.fail(key, "not an allowed value", found=value, allowed=" | ".join(options))
        return str(value)

    def text(
        self,
        table: dict[str, Any],
        key: str,
        prefix: str,
        pattern: re.Pattern[str],
        what: str,
        occ: int = 0,
    ) -> str:
        value = table.get(key)
        if value is None:
            raise self.fail(f"{prefix}{key}", "missing", allowed=what, leaf=key, occurrence=occ)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(
                f"{prefix}{key}", "invalid", found=value, allowed=what, leaf=key, occurrence=occ
            )
        return value


_T = TypeVar("_T")


class _Problems:
    """Collects one RecipeError per independent key, so one run names every problem."""

    def __init__(self) -> None:
        self.found: list[RecipeError] = []

    def check(self, fn: Callable[[], _T], default: _T) -> _T:
        try:
            return fn()
        except RecipeError as err:
            self.found.append(err)
            return default

    def raise_any(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise RecipeProblems(self.found)


def parse_recipe(text: str, path: str = "<recipe>") -> Recipe:
    """Parse and validate recipe text; raises RecipeError naming every problem found (each
    independent key once; a target's problems stop at its first)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        found = re.search(r"at line (\d+)", str(err))
        line = int(found.group(1)) if found else None
        raise RecipeError(path, "(syntax)", f"not valid TOML: {err}", line=line) from None
    except RecursionError:  # tomllib recurses once per nesting level
        raise RecipeError(path, "(syntax)", "nested too deeply to be a recipe") from None
    c = _Checker(path, text)
    p = _Problems()
    p.check(lambda: c.unknown(doc, TOP_KEYS, ""), None)
    p.check(lambda: _version(c, doc), None)
    cloud = p.check(lambda: c.choice(doc, "cloud", CLOUDS, "AzureCloud"), "AzureCloud")
    guest = p.check(lambda: _guest(c, doc), "auto")
    fix = p.check(lambda: c.choice(doc, "fix", FIXES, "reallocate"), "reallocate")
    reboot = p.check(lambda: _reboot(c, doc, fix), "restart")
    feature = p.check(lambda: c.choice(doc, "feature", FEATURE_MODES, "register"), "register")
    concurrency = p.check(lambda: _concurrency(c, doc), None)
    validate = p.check(lambda: _validate(c, doc), True)
    custom: dict[str, str] = p.check(lambda: _custom_cloud(c, doc, cloud), {})
    keyvault: dict[str, str] = p.check(lambda: _keyvault(c, doc, fix), {})
    own_secrets: dict[str, str] = p.check(lambda: _secret_sources(c, doc), {})
    secrets = {**DEFAULT_SECRET_SOURCES, **own_secrets}
    compute_api = p.check(lambda: _compute_api(c, doc), COMPUTE_API)
    flatcar = p.check(
        lambda: c.choice(doc, "flatcar_extensions", FLATCAR_EXTENSIONS, FLATCAR_EXTENSIONS[0]),
        FLATCAR_EXTENSIONS[0],
    )
    targets = _targets(c, p, doc, cloud, guest, flatcar)
    selector: dict[str, Any] = p.check(lambda: _selector(c, doc), {})
    p.raise_any()
    return Recipe(
        targets=targets,
        cloud=cloud,
        guest=guest,
        fix=fix,
        reboot=reboot,
        feature=feature,
        concurrency=concurrency,
        validate=validate,
        custom_cloud=custom,
        keyvault=keyvault,
        secrets=secrets,
        compute_api=compute_api,
        selector=selector,
        flatcar_extensions=flatcar,
        path=path,
    )


def _version(c: _Checker, doc: dict[str, Any]) -> None:
    version = doc.get("version")
    if type(version) is not int or version != VERSION:  # `true == 1` in Python: not here
        raise c.fail("version", "unsupported recipe version", found=version, allowed=str(VERSION))


def _guest(c: _Checker, doc: dict[str, Any]) -> str:
    guest = doc.get("guest", "auto")
    if not isinstance(guest, str) or not _GUEST.fullmatch(guest):
        raise c.fail("guest", "invalid", found=guest, allowed="auto | none | a guest recipe id")
    return guest


def _reboot(c: _Checker, doc: dict[str, Any], fix: str) -> str:
    reboot = c.choice(doc, "reboot", REBOOTS, "restart")
    if reboot == "reallocate" and fix != "reallocate":
        # The deallocate + start is the reallocate fix's own action, approved as such.
        raise c.fail("reboot", 'needs fix = "reallocate"', found=reboot, allowed="restart")
    return reboot


def _concurrency(c: _Checker, doc: dict[str, Any]) -> int | None:
    if "concurrency" not in doc:
        return None
    value = doc["concurrency"]
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 256:
        raise c.fail("concurrency", "out of range", found=value, allowed="an integer 1..256")
    return value


def _validate(c: _Checker, doc: dict[str, Any]) -> bool:
    value = doc.get("validate", True)
    if not isinstance(value, bool):
        raise c.fail("validate", "not a boolean", found=value, allowed="true | false")
    return value


def _custom_cloud(c: _Checker, doc: dict[str, Any], cloud: str) -> dict[str, str]:
    custom = _table(c, doc, "custom_cloud", CUSTOM_KEYS)
    _check_custom(c, custom)
    if cloud == "custom":
        for key in ("arm_endpoint", "authority"):
            if not custom.get(key):
                raise c.fail(f"custom_cloud.{key}", 'required when cloud = "custom"', leaf=key)
    return custom


def _keyvault(c: _Checker, doc: dict[str, Any], fix: str) -> dict[str, str]:
    keyvault = _table(c, doc, "keyvault", KEYVAULT_KEYS)
    if fix == "keyvault":
        for key in ("vault_id", "certificate_url"):
            if not keyvault.get(key):
                raise c.fail(f"keyvault.{key}", 'required when fix = "keyvault"', leaf=key)
    return keyvault


def _compute_api(c: _Checker, doc: dict[str, Any]) -> str:
    value = doc.get("compute_api", COMPUTE_API)
    if not isinstance(value, str) or not _API.fullmatch(value):
        raise c.fail(
            "compute_api",
            "not an api-version",
            found=value,
            allowed="YYYY-MM-DD, e.g. 2025-04-01 or 2024-11-01",
        )
    return value


SELECTOR_LISTS = ("subscriptions", "resource_groups", "tags", "vms", "exclude")


def _selector(c: _Checker, doc: dict[str, Any]) -> dict[str, Any]:
    """[selector]: lists of one-line strings, and `query` (a Resource Graph query)."""
    table = doc.get("selector", {})
    if not isinstance(table, dict):
        raise c.fail("selector", "must be a table", found=table, allowed="[selector]")
    c.unknown(table, {*SELECTOR_LISTS, "query"}, "selector.")
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key == "query":
            if not isinstance(value, str) or len(value) > MAX_VALUE:
                allowed = f"a string of at most {MAX_VALUE} characters"
                raise c.fail("selector.query", "invalid", found=value, allowed=allowed, leaf=key)
            out[key] = value
            continue
        if not isinstance(value, list):
            raise c.fail(
                f"selector.{key}", "must be a list", found=value, allowed='["a", "b"]', leaf=key
            )
        out[key] = [_plain(c, f"selector.{key}[{n}]", v, key) for n, v in enumerate(value)]
    return out


def _table(c: _Checker, doc: dict[str, Any], name: str, keys: set[str]) -> dict[str, str]:
    table = doc.get(name, {})
    if not isinstance(table, dict):
        raise c.fail(name, "must be a table", found=table, allowed=f"[{name}]")
    c.unknown(table, keys, f"{name}.")
    for key, value in table.items():
        _plain(c, f"{name}.{key}", value, key)
    return dict(table)


def _plain(c: _Checker, key: str, value: object, leaf: str, occ: int = 0) -> str:
    """A one-line string of sensible length (no control characters: no hidden newline)."""
    allowed = f"a one-line string of at most {MAX_VALUE} characters"
    if not isinstance(value, str):
        raise c.fail(
            key, "must be a string", found=value, allowed=allowed, leaf=leaf, occurrence=occ
        )
    if len(value) > MAX_VALUE or _CONTROL.search(value):
        raise c.fail(key, "not accepted", found=value, allowed=allowed, leaf=leaf, occurrence=occ)
    return value


def _check_custom(c: _Checker, custom: dict[str, str]) -> None:
    """Each [custom_cloud] value checked as the cloud code will use it, so the error names
    the recipe file and key instead of surfacing later without either."""
    for key, value in custom.items():
        if not value.strip():
            continue
        try:
            if key == "arm_endpoint":
                resolve_cloud("custom", arm_endpoint=value, authority="login.microsoftonline.com")
            else:
                resolve_cloud("AzureCloud", **{key: value})
        except BadInput as err:
            problem = str(err).replace(repr(value), brief(value))
            raise c.fail(f"custom_cloud.{key}", problem, leaf=key) from None


def _secret_sources(c: _Checker, doc: dict[str, Any]) -> dict[str, str]:
    table = doc.get("secrets", {})
    if not isinstance(table, dict):
        raise c.fail("secrets", "must be a table", allowed="[secrets]")
    c.unknown(table, set(SECRET_NAMES), "secrets.")
    for key, value in table.items():
        if (
            not isinstance(value, str)
            or len(value) > MAX_VALUE
            or _CONTROL.search(value)
            or not re.fullmatch(r"(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)", value)
        ):
            # Never echo the value: it may be the secret itself pasted by mistake.
            raise c.fail(
                f"secrets.{key}",
                "must say where the secret comes from, never the value",
                allowed="env:VARIABLE | file:PATH",
                leaf=key,
            )
    return dict(table)


def _targets(
    c: _Checker, p: _Problems, doc: dict[str, Any], cloud: str, guest: str, flatcar: str
) -> tuple[RecipeTarget, ...]:
    raw = doc.get("target")
    if not isinstance(raw, list) or not raw:
        p.found.append(
            c.fail(
                "target",
                "at least one [[target]] is required",
                allowed="[[target]] with subscription, resource_group, vm",
            )
        )
        return ()
    seen: set[str] = set()
    out = []
    for n, table in enumerate(raw):
        one = p.check(partial(_target, c, n, table, seen, cloud, guest, flatcar), None)
        if one is not None:
            out.append(one)
    return tuple(out)


def _target(
    c: _Checker,
    n: int,
    table: object,
    seen: set[str],
    cloud: str,
    guest: str,
    flatcar: str,
) -> RecipeTarget:
    """One [[target]] table; its first problem stands for the table."""
    prefix = f"target[{n}]."
    if not isinstance(table, dict):
        raise c.fail(
            f"target[{n}]", "must be a table", found=table, allowed="[[target]]", leaf="target"
        )
    c.unknown(table, TARGET_KEYS, prefix, n)
    target = Target(
        subscription=c.text(table, "subscription", prefix, _GUID, "a subscription GUID", n),
        resource_group=c.text(table, "resource_group", prefix, _NAME, "a resource group name", n),
        vm=c.text(table, "vm", prefix, _VM, "a VM name (1-64 letters, digits, - _ .)", n),
        cloud=cloud,
    )
    if target.key.lower() in seen:
        raise c.fail(f"{prefix}vm", "duplicate target", found=target.vm, leaf="vm", occurrence=n)
    seen.add(target.key.lower())
    own = table.get("guest", guest)
    if not isinstance(own, str) or not _GUEST.fullmatch(own):
        raise c.fail(
            f"{prefix}guest",
            "invalid",
            found=own,
            leaf="guest",
            allowed="auto | none | a guest recipe id",
            occurrence=n,
        )
    return RecipeTarget(
        target,
        own,
        _skip(c, table, prefix, n),
        _decline(c, table, prefix, n),
        _flatcar(c, table, prefix, n, flatcar),
    )


def _flatcar(c: _Checker, table: dict[str, Any], prefix: str, n: int, default: str) -> str:
    value = table.get("flatcar_extensions", default)
    if not isinstance(value, str) or value not in FLATCAR_EXTENSIONS:
        raise c.fail(
            f"{prefix}flatcar_extensions",
            "not an allowed value",
            found=value,
            allowed=" | ".join(FLATCAR_EXTENSIONS),
            leaf="flatcar_extensions",
            occurrence=n,
        )
    return value


def _skip(c: _Checker, table: dict[str, Any], prefix: str, n: int) -> str | None:
    if "skip" not in table:
        return None
    reason = _plain(c, f"{prefix}skip", table["skip"], "skip", n)
    if not reason.strip():
        raise c.fail(
            f"{prefix}skip",
            "empty",
            allowed="the reason this VM is left out",
            leaf="skip",
            occurrence=n,
        )
    return reason


def _decline(c: _Checker, table: dict[str, Any], prefix: str, n: int) -> tuple[str, ...]:
    raw = table.get("decline", [])
    what = 'a list of step ids or step kinds, e.g. ["guest-reboot"]'
    if not isinstance(raw, list):
        raise c.fail(
            f"{prefix}decline",
            "must be a list",
            found=raw,
            allowed=what,
            leaf="decline",
            occurrence=n,
        )
    for item in raw:
        if not isinstance(item, str) or not _DECLINE.fullmatch(item):
            raise c.fail(
                f"{prefix}decline",
                "invalid item",
                found=item,
                allowed=what,
                leaf="decline",
                occurrence=n,
            )
    return tuple(raw)


def load_recipe(path: str | Path) -> Recipe:
    p = Path(path)
    try:
        with p.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise RecipeError(str(p), "(file)", "is a directory, not a recipe file") from None
    except OSError as err:
        raise RecipeError(str(p), "(file)", f"cannot read: {err.strerror}") from None
    if len(data) > MAX_BYTES:
        raise RecipeError(str(p), "(file)", f"larger than {MAX_BYTES} bytes: not a recipe")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise RecipeError(str(p), "(file)", "not UTF-8 text (a binary file?)", line=line) from None
    return parse_recipe(text, str(p))


def _q(value: str) -> str:
    # JSON string escapes are TOML basic-string escapes; TOML also forbids a raw DEL.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def dump_recipe(recipe: Recipe) -> str:
    """Render a recipe as TOML that `parse_recipe` reads back to an equal Recipe."""
    lines = [
        "# fipswizard recipe: replay with `fipswizard apply THIS_FILE`",
        "# Secrets are never stored here: [secrets] says where each one comes from.",
        f"version = {VERSION}",
        f"cloud = {_q(recipe.cloud)}",
        f"guest = {_q(recipe.guest)}  # auto | none | a guest recipe id",
        f"fix = {_q(recipe.fix)}  # reallocate | keyvault | none",
        f"reboot = {_q(recipe.reboot)}  # restart | reallocate (one boot: deallocate + start)",
        f"feature = {_q(recipe.feature)}  # register | skip",
        *(
            [f"concurrency = {recipe.concurrency}  # VMs at once (absent: chosen from the fleet)"]
            if recipe.concurrency is not None
            else []
        ),
        f"validate = {'true' if recipe.validate else 'false'}",
        f"compute_api = {_q(recipe.compute_api)}  # Compute api-version of the VM requests",
    ]
    if recipe.flatcar_extensions != FLATCAR_EXTENSIONS[0]:
        lines.append(
            f"flatcar_extensions = {_q(recipe.flatcar_extensions)}"
            "  # update-agent | accept-unsupported"
        )
    for name, table in (
        ("custom_cloud", recipe.custom_cloud),
        ("keyvault", recipe.keyvault),
        ("secrets", recipe.secrets),
    ):
        if table:
            lines += ["", f"[{name}]"] + [f"{k} = {_q(v)}" for k, v in sorted(table.items())]
    if recipe.selector:
        lines += ["", "# How the targets below were chosen; they stay this frozen list."]
        lines += ["[selector]"]
        for key, value in sorted(recipe.selector.items()):
            shown = _q(value) if isinstance(value, str) else f"[{', '.join(map(_q, value))}]"
            lines.append(f"{key} = {shown}")
    for rt in recipe.targets:
        t = rt.target
        lines += [
            "",
            "[[target]]",
            f"subscription = {_q(t.subscription)}",
            f"resource_group = {_q(t.resource_group)}",
            f"vm = {_q(t.vm)}",
        ]
        if rt.guest != recipe.guest:
            lines.append(f"guest = {_q(rt.guest)}")
        if rt.skip is not None:
            lines.append(f"skip = {_q(rt.skip)}")
        if rt.decline:
            lines.append(f"decline = [{', '.join(_q(d) for d in rt.decline)}]")
        if rt.flatcar_extensions != recipe.flatcar_extensions:
            lines.append(f"flatcar_extensions = {_q(rt.flatcar_extensions)}")
    return "\n".join(lines) + "\n"
