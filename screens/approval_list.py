"""The approval items of a run, per VM, each marked "[x]" (approved) or "[ ]" in plain text.

Used by the Confirm screen (the plan's items) and by the gate's modal (items only the read
phase revealed). Space or Enter toggles the highlighted line; a VM's header line toggles all
of that VM's items, so approving per VM is one key.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.binding import Binding
from textual.markup import escape
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from fipswizard.context import key_name
from fipswizard.engine.approvals import ApprovalItem, by_target

Key = tuple[str, str]


def _vm(target: str) -> str:
    return key_name(target)


class ApprovalList(OptionList):
    BINDINGS = [
        Binding("space", "flip", "Approve / decline", show=False),
        Binding("a", "set_all(True)", "Approve all", show=False),
        Binding("n", "set_all(False)", "Decline all", show=False),
    ]

    def __init__(self, items: Sequence[ApprovalItem], *, id: str | None = None) -> None:
        self.items = list(items)
        self.approved: set[Key] = {i.key for i in self.items}  # default: every item approved
        self._ids: dict[str, list[Key]] = {}
        options: list[Option] = []
        for n, (target, group) in enumerate(by_target(self.items).items()):
            head = f"vm-{n}"
            self._ids[head] = [i.key for i in group]
            options.append(Option(self._head(target, group), id=head))
            for m, item in enumerate(group):
                oid = f"item-{n}-{m}"
                self._ids[oid] = [item.key]
                options.append(Option(self._line(item), id=oid))
        super().__init__(*options, id=id)

    def _mark(self, keys: Sequence[Key]) -> str:
        return "[x]" if all(k in self.approved for k in keys) else "[ ]"

    def _head(self, target: str, group: Sequence[ApprovalItem]) -> str:
        keys = [i.key for i in group]
        return escape(self._text(f"vm:{target}", keys, group))

    def _line(self, item: ApprovalItem) -> str:
        return escape(self._text("item", [item.key], [item]))

    def _text(self, what: str, keys: list[Key], group: Sequence[ApprovalItem]) -> str:
        if what.startswith("vm:"):
            return f"{self._mark(keys)} VM {_vm(what[3:])}: all {len(keys)} item(s)"
        return f"    {self._mark(keys)} {group[0].line()}"

    def state_lines(self) -> list[str]:
        """The list as plain text, in order (what a screen reader or a test sees)."""
        groups = by_target(self.items)
        out = []
        for oid, keys in self._ids.items():
            if oid.startswith("vm-"):
                target = keys[0][0]
                out.append(self._text(f"vm:{target}", keys, groups[target]))
            else:
                item = next(i for i in self.items if i.key == keys[0])
                out.append(self._text("item", keys, [item]))
        return out

    def _redraw(self) -> None:
        for oid, line in zip(self._ids, self.state_lines(), strict=True):
            self.replace_option_prompt(oid, escape(line))

    def action_flip(self) -> None:
        if self.highlighted is None:
            return
        oid = self.get_option_at_index(self.highlighted).id or ""
        keys = self._ids.get(oid, [])
        if all(k in self.approved for k in keys):
            self.approved.difference_update(keys)
        else:
            self.approved.update(keys)
        self._redraw()

    def action_set_all(self, value: bool) -> None:
        self.approved = {i.key for i in self.items} if value else set()
        self._redraw()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.action_flip()
