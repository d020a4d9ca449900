"""Phase 1: choose the VMs (listed from ARM, filtered), or open a recipe, resume, roll back."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.markup import escape
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Select, SelectionList, Static
from textual.widgets.selection_list import Selection

from fipswizard.azure import selection
from fipswizard.azure.selection_rule import rule_selector
from fipswizard.errors import FipsWizardError
from fipswizard.guest.diagnose import COSTS
from fipswizard.recipe import Recipe
from fipswizard.session import Options
from screens.base import WizardScreen
from screens.command_table import bindings_for
from screens.dialogs import PathDialog
from screens.messages import GroupsListed, ListingFailed, SubscriptionsListed, VmsListed
from screens.results import OpenRecipe, ResumeJournal, RollbackJournal, TargetResult, UseRecipe
from screens.selector_dialog import RuleAnswer, SelectorDialog
from screens.target_model import (
    CLOUD_CHOICES,
    FIX_CHOICES,
    TargetChoice,
    fetch,
    filter_rows,
    select,
)

# The VM line's fixed part: "[x] " + name (24) + region (14) + " flag off" + the list's own
# checkbox, border and scrollbar. The image column takes the rest of the width.
FIXED_COLUMNS = 4 + 25 + 15 + 10 + 10
MIN_IMAGE = 20
ONE_BOOT = "One boot: "  # + "on" / "off": the state in words, readable without colour
ONE_BOOT_HELP = (
    "On: the guest reboot of a VM whose flag this run sets is a deallocate + start, which also "
    "issues the new certificate package, so validation passes first time (one boot instead of "
    f"a restart and then the fix). Needs the deallocate + start fix. Cost: {COSTS['reallocate']}."
)


def row_label(row: dict[str, str], chosen: bool = False, image_width: int = 34) -> str:
    """One VM line; "[x]"/"[ ]" says chosen or not in text, readable without colour."""
    image = row["image"]
    if len(image) > image_width:
        image = image[: image_width - 1] + "…"
    mark = "[x]" if chosen else "[ ]"
    return (
        f"{mark} {row['name']:<24} {row['location']:<14} {image:<{image_width}} flag {row['flag']}"
    )


class RuleSelected(Message):
    """The "Select by rule" worker resolved the selector (read-only)."""

    def __init__(self, selector: selection.Selector, found: selection.Selection) -> None:
        super().__init__()
        self.selector, self.selection = selector, found


class TargetScreen(WizardScreen[TargetResult]):
    COMMANDS_ID = "target"
    BINDINGS = bindings_for("target")

    def __init__(
        self,
        opts: Options,
        base: Recipe | None = None,
        note: str = "",
        last_journal: Path | None = None,
    ) -> None:
        """`last_journal`: the journal the previous run left, prefilled in resume/roll back."""
        super().__init__()
        self.opts, self.note = opts, note
        self.last_journal = str(last_journal) if last_journal else ""
        self.choice = TargetChoice(base)
        first = base.targets[0].target if base and base.targets else None
        self.want_sub = first.subscription if first else ""
        self.want_group = first.resource_group if first else ""
        self.cloud = base.cloud if base else "AzureCloud"
        self.custom = dict(base.custom_cloud) if base else {}
        self.clouds = list(CLOUD_CHOICES)
        if self.cloud == "custom":  # an air-gapped cloud named by the opened recipe
            self.clouds.append(("custom (from the recipe)", "custom"))
        self.fix = base.fix if base else "reallocate"
        self.fixes = list(FIX_CHOICES)
        if self.fix == "keyvault":  # needs the vault and certificate the recipe names
            self.fixes.append(("fix: Key Vault certificate (recipe)", "keyvault"))
        self.reboot = base.reboot if base else "restart"  # off by default
        self.rows: list[dict[str, str]] = []
        self.sub = self.group = ""
        self.rule: RuleAnswer | None = None  # the last "Select by rule" answer, offered again

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="target-pickers"):
            yield Select(
                self.clouds,
                value=self.cloud,
                allow_blank=False,
                id="cloud",
                tooltip="The Azure cloud (the ARM endpoint can be overridden).",
            )
            yield Select(
                [],
                prompt="Subscription",
                id="subscription",
                tooltip="Subscriptions your credential can see.",
            )
            yield Select(
                [],
                prompt="Resource group",
                id="group",
                tooltip="Resource groups of the subscription.",
            )
        with Horizontal(id="target-filter-row"):
            yield Input(
                placeholder="filter: name, region or image",
                id="filter",
                tooltip="Type words to narrow the VM list.",
            )
            yield Select(
                self.fixes,
                value=self.fix,
                allow_blank=False,
                id="fix",
                tooltip="What to do if validation shows the old certificate package.",
            )
            on = self.reboot == "reallocate"
            yield Checkbox(
                ONE_BOOT + ("on" if on else "off"),
                on,
                id="one-boot",
                compact=True,
                disabled=self.fix != "reallocate",
                tooltip=ONE_BOOT_HELP,
            )
            yield Button(
                "Select by rule",
                id="rule",
                tooltip="As `recipe new`: whole resource group, tags, a Resource Graph query, "
                "exclusions; the recipe records the rule.",
            )
        vms: SelectionList[str] = SelectionList(id="vms")
        vms.tooltip = "Space ticks a VM; ticked VMs are kept across resource groups."
        yield vms
        yield Static(escape(self.note or "Listing subscriptions..."), id="target-status")
        yield Static(escape(self.choice.describe()), id="chosen")
        with Horizontal(classes="nav-buttons"):
            yield Button("Open recipe", id="open")
            yield Button("Resume journal", id="resume")
            yield Button("Roll back journal", id="rollback")
            yield Button("Next", id="next", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#vms").focus()
        self.action_reload()

    # ---- listing: workers fetch and post; these handlers own the widgets
    def _list(self, what: str, *args: str) -> None:
        cloud, opts, custom = self.cloud, self.opts, self.custom
        key = "/".join((cloud, what, *args))
        message = {"subscriptions": SubscriptionsListed, "groups": GroupsListed, "vms": VmsListed}

        async def work() -> None:
            try:
                items = await fetch(opts, cloud, what, *args, custom=custom)
            except Exception as err:  # shown in a dialog; details go to the log
                self.post_message(ListingFailed(key, err))
                return
            self.post_message(message[what](key, items))

        self._status(f"Listing {what} (GET)...")
        self.run_worker(work(), group=f"list-{what}", exclusive=True, exit_on_error=False)

    def _status(self, text: str) -> None:
        self.query_one("#target-status", Static).update(escape(text))

    def action_reload(self) -> None:
        self._list("subscriptions")

    def on_subscriptions_listed(self, message: SubscriptionsListed) -> None:
        ids = [str(s.get("subscriptionId", "")) for s in message.items]
        options = [
            (f"{s.get('displayName', '')} ({sid[:8]}…)", sid)
            for s, sid in zip(message.items, ids, strict=True)
        ]
        select = self.query_one("#subscription", Select)
        select.set_options(options)
        wanted = next((i for i in ids if i.lower() == self.want_sub.lower()), ids[0] if ids else "")
        self._status(f"{len(ids)} subscription(s).")
        if wanted:
            select.value = wanted

    def on_groups_listed(self, message: GroupsListed) -> None:
        names = [str(g.get("name", "")) for g in message.items]
        select = self.query_one("#group", Select)
        select.set_options([(n, n) for n in names])
        wanted = next(
            (n for n in names if n.lower() == self.want_group.lower()), names[0] if names else ""
        )
        self._status(f"{len(names)} resource group(s) in {self.sub}.")
        if wanted:
            select.value = wanted

    def on_vms_listed(self, message: VmsListed) -> None:
        self.rows = message.rows
        self._status(f"{len(self.rows)} VM(s) listed in resource group {self.group}.")
        self._fill()

    def on_listing_failed(self, message: ListingFailed) -> None:
        self._status("Listing failed: see the message.")
        self.app.show_error(message.error)  # type: ignore[attr-defined]

    def on_select_changed(self, event: Select.Changed) -> None:
        value = "" if event.value is Select.NULL else str(event.value)
        if event.select.id == "cloud" and value and value != self.cloud:
            self.cloud = value
            self.action_reload()
        elif event.select.id == "subscription" and value:
            self.sub, self.rows = value, []
            self._fill()
            self._list("groups", value)
        elif event.select.id == "group" and value and self.sub:
            self.group = value
            self._list("vms", self.sub, value)
        elif event.select.id == "fix" and value:
            self.fix = value
            self.query_one("#one-boot", Checkbox).disabled = value != "reallocate"

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        if event.checkbox.id == "one-boot":
            self.reboot = "reallocate" if event.value else "restart"
            event.checkbox.label = ONE_BOOT + ("on" if event.value else "off")

    # ---- the VM list and the choice
    def _shown(self) -> list[dict[str, str]]:
        return filter_rows(self.rows, self.query_one("#filter", Input).value)

    def _fill(self) -> None:
        vms: SelectionList[str] = self.query_one("#vms", SelectionList)
        with self.prevent(SelectionList.SelectedChanged):
            vms.clear_options()
            vms.add_options(
                [
                    Selection(
                        escape(self._label(r)),
                        r["name"],
                        self.choice.is_chosen(self.sub, self.group, r["name"]),
                    )
                    for r in self._shown()
                ]
            )
            if vms.option_count:
                vms.highlighted = 0  # space ticks at once, no arrow key first

    def _label(self, row: dict[str, str]) -> str:
        width = self.query_one("#vms", SelectionList).size.width or self.app.size.width
        image_width = max(MIN_IMAGE, width - FIXED_COLUMNS)
        return row_label(row, self.choice.is_chosen(self.sub, self.group, row["name"]), image_width)

    def _relabel(self) -> None:
        """Rewrite the shown lines: the [x] marks after a toggle, the widths after a resize."""
        vms: SelectionList[str] = self.query_one("#vms", SelectionList)
        for index, row in enumerate(self._shown()[: vms.option_count]):
            vms.replace_option_prompt_at_index(index, escape(self._label(row)))

    def on_resize(self) -> None:
        self.call_after_refresh(self._relabel)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._fill()

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        selected = set(event.selection_list.selected)
        for row in self._shown():
            self.choice.set(self.sub, self.group, row["name"], row["name"] in selected, self.cloud)
        self.query_one("#chosen", Static).update(escape(self.choice.describe()))
        self._relabel()

    def action_choose_shown(self) -> None:
        vms: SelectionList[str] = self.query_one("#vms", SelectionList)
        if len(vms.selected) == vms.option_count:
            vms.deselect_all()
        else:
            vms.select_all()

    def action_next(self) -> None:
        if not self.choice.chosen:
            self.notify("Choose at least one VM first.", severity="warning")
            return
        try:
            recipe = self.choice.recipe(self.cloud, self.fix, self.reboot)
        except FipsWizardError as err:
            self.app.show_error(err)  # type: ignore[attr-defined]
            return
        self.dismiss(UseRecipe(recipe))

    # ---- files: the wizard worker reads them
    def _ask_path(
        self,
        title: str,
        make: type[OpenRecipe | ResumeJournal | RollbackJournal],
        default: str = "",
    ) -> None:
        def chosen(path: Path | None) -> None:
            if path is not None:
                self.dismiss(make(path))

        self.app.push_screen(PathDialog(title, default), chosen)

    def action_open_recipe(self) -> None:
        self._ask_path("Open a recipe (TOML)", OpenRecipe)

    def action_resume_journal(self) -> None:
        self._ask_path("Resume the run recorded in a journal", ResumeJournal, self.last_journal)

    def action_rollback_journal(self) -> None:
        self._ask_path("Roll back what a journal recorded", RollbackJournal, self.last_journal)

    # ---- select by rule: the same selectors as `recipe new`, resolved in a worker
    def action_select_rule(self) -> None:
        def answered(answer: RuleAnswer | None) -> None:
            if answer is not None:
                self.rule = answer
                self._resolve(answer)

        self.app.push_screen(SelectorDialog(self.sub, self.group, self.rule), answered)

    def _resolve(self, answer: RuleAnswer) -> None:
        try:
            selector = rule_selector(
                self.sub, self.group, answer.whole_group, answer.tags, answer.query, answer.exclude
            )
        except FipsWizardError as err:
            self.app.show_error(err)  # type: ignore[attr-defined]
            return
        cloud, opts, custom = self.cloud, self.opts, self.custom

        async def work() -> None:
            try:
                found = await select(opts, cloud, selector, custom)
            except Exception as err:  # shown in a dialog; details go to the log
                self.post_message(ListingFailed("rule", err))
                return
            self.post_message(RuleSelected(selector, found))

        self._status("Selecting by rule (GETs and Resource Graph queries only)...")
        self.run_worker(work(), group="select-rule", exclusive=True, exit_on_error=False)

    def on_rule_selected(self, message: RuleSelected) -> None:
        self.choice.use(message.selection, message.selector, self.cloud)
        dropped = "; ".join(message.selection.not_targets)
        self._status(
            f"{len(message.selection.vms)} VM(s) selected by rule."
            + (f" Not targets: {dropped}" if dropped else "")
        )
        self.query_one("#chosen", Static).update(escape(self.choice.describe()))
        self._fill()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "rule": self.action_select_rule,
            "open": self.action_open_recipe,
            "resume": self.action_resume_journal,
            "rollback": self.action_rollback_journal,
            "next": self.action_next,
        }
        actions[event.button.id or "next"]()
