"""The TUI's "Select by rule" as text fields, turned into the `Selector` `recipe new` builds
from its flags (engine side: front ends never parse text themselves)."""

from __future__ import annotations

from fipswizard.azure.selection import Selector
from fipswizard.errors import BadInput


def rule_selector(
    sub: str, group: str, whole_group: bool, tags: str, query: str, exclude: str
) -> Selector:
    """The selector the "Select by rule" dialog describes, in the current subscription, with
    `recipe new`'s semantics (union of the whole group, the tags and the query, minus
    exclusions). Tags are comma-separated KEY=VALUE (a value may hold spaces); exclusions are
    NAME or RG/NAME separated by commas or spaces (Azure names hold neither)."""
    selector = Selector(
        subscriptions=(sub,) if sub else (),
        resource_groups=(group,) if whole_group and group else (),
        tags=tuple(t.strip() for t in tags.split(",") if t.strip()),
        query=query.strip(),
        exclude=tuple(exclude.replace(",", " ").split()),
    )
    selector.tag_pairs()  # a malformed tag is refused here, with what is allowed
    if not (selector.resource_groups or selector.tags or selector.query):
        raise BadInput(
            "select by rule: nothing selects VMs: tick the whole resource group, or give a "
            "tag KEY=VALUE or a Resource Graph query"
        )
    if not selector.subscriptions and not selector.query:
        raise BadInput("select by rule: choose a subscription first")
    return selector
