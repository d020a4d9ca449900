"""Choosing a fleet the way operators do: by subscription, resource group, tag, Resource Graph
query, name; minus exclusions. GETs and Resource Graph queries only.

The resolved list is frozen into the recipe (reviewable in a diff) and the selector is recorded
next to it, so `plan` and `apply` can say when the selector would now select a different set.

Semantics (documented in the README): the sources are a UNION: every VM of each
`--resource-group` (in each `--subscription` that has that group), every VM of the
subscriptions carrying all `--tag KEY=VALUE` pairs (tag names compare case-insensitively, as
ARM's do; values exactly), every VM a `--query` returns, and each `--vm` (NAME or RG/NAME,
looked up in the subscriptions); then `--exclude` (NAME or RG/NAME) removes VMs.

Scale sets: Microsoft's newest how-to revision (agent-linux-fips.md, commit 02480b51) warns that
`enableFips1403Encryption` does not yet propagate to scale-set VM instances, so nothing is
written to a scale set: a VM in a Flexible scale set (`properties.virtualMachineScaleSet.id`)
is kept in the recipe with `skip = <reason>`, and a Uniform scale-set instance (a
`virtualMachineScaleSets/{name}/virtualMachines/{id}` resource) is not a target at all.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fipswizard.azure.arm_errors import ArmError
from fipswizard.azure.inventory import list_all
from fipswizard.context import wall_sleep
from fipswizard.errors import BadInput

if TYPE_CHECKING:
    from fipswizard.azure.arm import ArmClient

GRAPH_PATH = "/providers/Microsoft.ResourceGraph/resources"
GRAPH_API = "2022-10-01"
GRAPH_PAGE = 1000  # ARG's maximum page ("Working with large Azure resource data sets")
MAX_GRAPH_PAGES = 1000
VM_PROVIDER = "Microsoft.Compute/virtualMachines"
SOURCE = (
    "Microsoft's how-to (learn.microsoft.com/azure/virtual-machines/extensions/agent-linux-fips, "
    "newest revision) says enableFips1403Encryption does not yet propagate to scale-set VM "
    "instances; nothing is written to a scale set until Azure documents the behaviour"
)
SELECTOR_KEYS = ("subscriptions", "resource_groups", "tags", "query", "vms", "exclude")


def scale_set_reason(scale_set_id: str) -> str:
    name = scale_set_id.rstrip("/").rsplit("/", 1)[-1]
    return f"not supported: a VM of scale set {name} ({SOURCE})"


def scale_set_of(vm: Any) -> str:
    """The Flexible scale set id of a VM model (GET/list answer), "" when standalone."""
    props = vm.get("properties") if isinstance(vm, dict) else None
    ref = props.get("virtualMachineScaleSet") if isinstance(props, dict) else None
    value = ref.get("id") if isinstance(ref, dict) else None
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class Selector:
    subscriptions: tuple[str, ...] = ()
    resource_groups: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()  # "KEY=VALUE"
    query: str = ""
    vms: tuple[str, ...] = ()  # NAME or RG/NAME
    exclude: tuple[str, ...] = ()  # NAME or RG/NAME

    def to_table(self) -> dict[str, Any]:
        """The recipe's [selector] table (only what was given)."""
        table: dict[str, Any] = {}
        for key in SELECTOR_KEYS:
            value = getattr(self, key)
            if value:
                table[key] = list(value) if isinstance(value, tuple) else value
        return table

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> Selector:
        lists = {k: tuple(table.get(k, ())) for k in SELECTOR_KEYS if k != "query"}
        return cls(query=str(table.get("query", "")), **lists)

    def tag_pairs(self) -> list[tuple[str, str]]:
        pairs = []
        for tag in self.tags:
            key, sep, value = tag.partition("=")
            if not sep or not key.strip():
                raise BadInput(f"--tag {tag!r}: allowed: KEY=VALUE (e.g. env=prod)")
            pairs.append((key.strip(), value))
        return pairs


@dataclass(frozen=True)
class Found:
    """One selected VM, as listed."""

    subscription: str
    resource_group: str
    name: str
    scale_set: str = ""

    @property
    def key(self) -> str:  # the same as Target.key
        return f"{self.subscription}/{self.resource_group}/{self.name}"


@dataclass
class Selection:
    vms: list[Found] = field(default_factory=list)
    not_targets: list[str] = field(default_factory=list)  # scale-set instances, with why

    @property
    def keys(self) -> set[str]:
        return {f.key.lower() for f in self.vms}


def _parse_id(resource_id: str) -> tuple[str, str, str, str] | None:
    """(subscription, group, type path, name) of an ARM resource id."""
    parts = resource_id.strip("/").split("/")
    if (
        len(parts) < 8
        or parts[0].lower() != "subscriptions"
        or parts[2].lower() != "resourcegroups"
    ):
        return None
    # .../providers/{namespace}/{type}/{name}[/{child type}/{child name}]...
    return parts[1], parts[3], "/".join(parts[6::2]).lower(), parts[-1]


def _found(vm: dict[str, Any]) -> Found | None:
    parsed = _parse_id(str(vm.get("id", "")))
    if parsed is None or parsed[2] != "virtualmachines":
        return None
    return Found(parsed[0], parsed[1], parsed[3], scale_set_of(vm))


Sleep = Callable[[float], Awaitable[None]]


class Resolver:
    """Lists what a selector names. `sleep` waits out Resource Graph's per-user quota when
    `x-ms-user-quota-remaining` reaches 0 (ARG "Guidance for throttled requests"); ARM's own
    429s are handled by the ArmClient (Retry-After)."""

    def __init__(self, arm: ArmClient, compute_api: str, sleep: Sleep = wall_sleep) -> None:
        self.arm, self.api, self.sleep = arm, compute_api, sleep
        self._sub_vms: dict[str, list[dict[str, Any]]] = {}

    async def subscription_vms(self, sub: str) -> list[dict[str, Any]]:
        if sub not in self._sub_vms:
            path = f"/subscriptions/{sub}/providers/{VM_PROVIDER}"
            self._sub_vms[sub] = await list_all(self.arm, path, self.api)
        return self._sub_vms[sub]

    async def group_vms(self, sub: str, group: str) -> list[dict[str, Any]] | None:
        path = f"/subscriptions/{sub}/resourceGroups/{group}/providers/{VM_PROVIDER}"
        try:
            return await list_all(self.arm, path, self.api)
        except ArmError as err:
            if err.status == 404:  # the group is in another of the subscriptions
                return None
            raise

    async def graph(self, query: str, subscriptions: Iterable[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        options: dict[str, Any] = {"$top": GRAPH_PAGE, "resultFormat": "objectArray"}
        body: dict[str, Any] = {"query": query, "options": options}
        subs = list(subscriptions)
        if subs:
            body["subscriptions"] = subs
        for _ in range(MAX_GRAPH_PAGES):
            resp = await self.arm.post(GRAPH_PATH, GRAPH_API, body, retry_safe=True)
            answer = resp.body if isinstance(resp.body, dict) else {}
            data = answer.get("data")
            if not isinstance(data, list):
                raise BadInput(
                    f"--query: Resource Graph answered without a `data` array: "
                    f"{json.dumps(answer)[:200]}"
                )
            rows += [r for r in data if isinstance(r, dict)]
            await self._respect_quota(resp.headers)
            token = answer.get("$skipToken")
            if not token:
                return rows
            options["$skipToken"] = token
        raise BadInput(f"--query: more than {MAX_GRAPH_PAGES} pages; narrow the query")

    async def _respect_quota(self, headers: Any) -> None:
        if str(headers.get("x-ms-user-quota-remaining", "1")).strip() != "0":
            return
        resets = str(headers.get("x-ms-user-quota-resets-after", "00:00:01"))
        try:
            h, m, s = (float(x) for x in resets.split(":"))
            wait = h * 3600 + m * 60 + s
        except ValueError:
            wait = 1.0
        await self.sleep(max(wait, 0.0))


async def resolve(
    arm: ArmClient, selector: Selector, compute_api: str, sleep: Sleep = wall_sleep
) -> Selection:
    r = Resolver(arm, compute_api, sleep)
    chosen: dict[str, Found] = {}
    out = Selection()

    def add(found: Found) -> None:
        chosen.setdefault(found.key.lower(), found)

    for group in selector.resource_groups:
        hits = 0
        for sub in selector.subscriptions:
            listed = await r.group_vms(sub, group)
            if listed is None:
                continue
            hits += 1
            for vm in listed:
                if (f := _found(vm)) is not None:
                    add(f)
        if not hits:
            raise BadInput(
                f"--resource-group {group!r}: not found in subscription(s) "
                f"{', '.join(selector.subscriptions) or '(none given: pass --subscription)'}"
            )
    pairs = selector.tag_pairs()
    if pairs:
        for sub in selector.subscriptions:
            for vm in await r.subscription_vms(sub):
                tags = {str(k).lower(): v for k, v in (vm.get("tags") or {}).items()}
                if all(tags.get(k.lower()) == v for k, v in pairs) and (f := _found(vm)):
                    add(f)
    if selector.query:
        for row in await r.graph(selector.query, selector.subscriptions):
            rid = str(row.get("id", ""))
            parsed = _parse_id(rid)
            if parsed is None:
                raise BadInput(
                    "--query: every row needs the resource `id` column (e.g. end the query "
                    f"with `| project id, name`); found a row with {sorted(row)}"
                )
            if parsed[2] == "virtualmachinescalesets/virtualmachines":
                out.not_targets.append(f"{rid}: {scale_set_reason(rid.rsplit('/', 2)[0])}")
            elif parsed[2] == "virtualmachines":
                add(Found(parsed[0], parsed[1], parsed[3], scale_set_of(row)))
            else:
                out.not_targets.append(f"{rid}: not a virtual machine ({parsed[2]})")
    for name in selector.vms:
        add(await _by_name(r, selector, name))
    drop = {n.lower() for n in selector.exclude}
    out.vms = sorted(
        (
            f
            for f in chosen.values()
            if f.name.lower() not in drop and f"{f.resource_group}/{f.name}".lower() not in drop
        ),
        key=lambda f: f.key.lower(),
    )
    return out


async def _by_name(r: Resolver, selector: Selector, name: str) -> Found:
    group, _, vm_name = name.rpartition("/")
    matches = []
    for sub in selector.subscriptions:
        for vm in await r.subscription_vms(sub):
            f = _found(vm)
            if f and f.name.lower() == vm_name.lower():
                if not group or f.resource_group.lower() == group.lower():
                    matches.append(f)
    if len(matches) != 1:
        where = ", ".join(m.key for m in matches) or "nowhere in the subscriptions"
        raise BadInput(
            f"--vm {name!r}: found {len(matches)} VMs ({where}); allowed: a name found once, "
            "or RG/NAME"
        )
    return matches[0]


@dataclass
class Drift:
    newly_selected: list[str]
    no_longer_selected: list[str]

    def lines(self) -> list[str]:
        out = []
        if self.newly_selected:
            out.append(
                "the recorded selector now also selects (newly selected, NOT in this run): "
                + ", ".join(self.newly_selected)
                + "; run `fipswizard recipe new` with the same selector to include them"
            )
        if self.no_longer_selected:
            out.append(
                "the recorded selector no longer selects (still in the frozen list, so in "
                "this run): " + ", ".join(self.no_longer_selected)
            )
        return out


async def drift(
    arm: ArmClient,
    selector: Selector,
    frozen: Iterable[str],
    compute_api: str,
    sleep: Sleep = wall_sleep,
) -> Drift:
    """Compare the frozen target keys with what the selector selects now (read-only)."""
    now = await resolve(arm, selector, compute_api, sleep)
    frozen_keys = {k.lower(): k for k in frozen}
    current = {f.key.lower(): f.key for f in now.vms}
    return Drift(
        sorted(v for k, v in current.items() if k not in frozen_keys),
        sorted(v for k, v in frozen_keys.items() if k not in current),
    )


SELECTOR_FACTS = "selector"  # the facts entry (not a VM key) that carries the drift notes


async def selector_notes(
    arm: ArmClient, table: dict[str, Any], frozen: Iterable[str], compute_api: str
) -> list[str]:
    """What plan/apply say about a recorded selector: nothing when it selects the frozen list,
    else the newly / no longer selected VMs. A failed re-evaluation is said, never fatal (the
    run works on the frozen list either way)."""
    try:
        found = await drift(arm, Selector.from_table(table), frozen, compute_api)
    except (ArmError, BadInput) as err:
        if getattr(err, "exit_code", 0) == 3:
            raise
        return [f"could not re-evaluate the recorded selector: {str(err).splitlines()[0]}"]
    return found.lines()
