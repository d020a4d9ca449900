"""Every command declared once: footer bindings, the command palette and F1 help derive from here.

Each screen names its table with `COMMANDS_ID`; `bindings_for(id)` gives its BINDINGS,
`WizardCommands` offers the same commands in the palette, and `help_markup(id)` is its F1 help.
Keys are ctrl-combinations or function keys so they work while a text field has the focus.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape


@dataclass(frozen=True)
class Command:
    key: str  # Textual key name(s), e.g. "ctrl+n" or "escape"
    action: str  # an action of the screen, or "app.<action>"
    description: str  # footer label and palette title
    help: str  # one sentence for the palette and the F1 help
    show: bool = True  # shown in the footer


GLOBAL: tuple[Command, ...] = (
    Command("f1", "app.help", "Help", "Help for this screen and the focused field."),
    Command(
        "ctrl+t", "app.toggle_theme", "Dark/light", "Switch between the dark and the light theme."
    ),
    Command(
        "ctrl+q",
        "app.quit",
        "Quit",
        "Leave fipswizard; a run's journal keeps its state.",
        show=False,
    ),
)

# Textual's own palette commands that this table already offers under its own name: the app
# leaves them out of the palette so each command is listed once (Quit was listed twice).
FOLDED_SYSTEM_COMMANDS: dict[str, str] = {
    "Quit": "Quit",  # ^Q, above
    "Theme": "Dark/light",  # the app supports its two themes only (app.THEMES)
    "Keys": "Help",  # F1 shows the keys and the focused field's help
}

_NEXT = "Continue to the next phase."
_BACK = Command("escape", "back", "Back", "Return to the previous phase.")

SCREENS: dict[str, tuple[Command, ...]] = {
    "home": (),
    "target": (
        Command("ctrl+n", "next", "Next", "Use the chosen VMs: read their facts (GETs only)."),
        Command(
            "ctrl+a",
            "choose_shown",
            "Choose shown",
            "Choose every VM the filter shows (again: un-choose them).",
        ),
        Command("f5", "reload", "Reload", "List subscriptions, resource groups and VMs again."),
        Command("ctrl+o", "open_recipe", "Open recipe", "Open a saved recipe file (TOML)."),
        Command(
            "ctrl+r",
            "resume_journal",
            "Resume",
            "Resume the run a journal recorded: its recipe, continuing where it stopped.",
        ),
        Command(
            "ctrl+b",
            "rollback_journal",
            "Roll back",
            "Undo, in reverse order, what a journal says was changed.",
        ),
    ),
    "preflight": (
        Command("ctrl+n", "next", "Plan", "Show the plan: every request and script."),
        _BACK,
    ),
    "plan": (
        Command("ctrl+n", "next", "Confirm", "Review the disruptive steps before anything runs."),
        _BACK,
    ),
    "confirm": (
        Command("ctrl+n", "next", "Run", "Start the run: writes are journalled before and after."),
        _BACK,
    ),
    "run": (
        Command(
            "ctrl+x",
            "cancel_run",
            "Cancel run",
            "Stop safely: the journal keeps the state; resume or roll back later.",
        ),
        Command("ctrl+n", "next", "Continue", "The run has ended: see the validation results."),
    ),
    "validation": (Command("ctrl+n", "next", "Summary", _NEXT),),
    "summary": (
        Command(
            "ctrl+s",
            "save_recipe",
            "Save recipe",
            "Write the recipe so `fipswizard apply` replays this run.",
        ),
        Command(
            "ctrl+e",
            "evidence",
            "Evidence",
            "Write the run's evidence bundle next to the journal (read-only), then show it.",
        ),
        Command("ctrl+b", "rollback", "Roll back", "Preview and undo what the run changed."),
        Command("ctrl+n", "next", "New run", "Start again at the target choice."),
        Command("ctrl+q", "quit", "Quit", "Leave fipswizard (exit code as `apply` would give)."),
    ),
    "rollback": (
        Command("ctrl+n", "next", "Roll back", "Undo the listed changes, newest first."),
        _BACK,
    ),
    "question": (
        Command(
            "y",
            "answer('yes')",
            "Accept",
            "Accept the proposed step and its cost (on the ticked VMs when several ask).",
        ),
        Command(
            "a",
            "answer('all')",
            "Accept for all",
            "Accept on every VM listed, and on the VMs of this run that ask it later.",
        ),
        Command("n", "answer('no')", "Decline", "Decline: the step is not run (on any VM listed)."),
        Command("escape", "answer('no')", "Decline", "Decline (same as n).", show=False),
        Command(
            "ctrl+x",
            "cancel_run",
            "Cancel run",
            "Stop the run safely without answering: the step asked about is not started.",
        ),
    ),
    "dialog": (Command("escape", "close", "Close", "Close this dialog."),),
    "help": (Command("escape", "close", "Close", "Close the help."),),
}

SCREEN_HELP: dict[str, str] = {
    "home": "fipswizard is preparing the next phase.",
    "target": "Choose the VMs: pick the cloud, a subscription and a resource group, then tick "
    "VMs (space). Type in the filter to narrow the list. You can tick VMs in several "
    "resource groups. Or open a saved recipe, resume a journal, or roll one back.",
    "preflight": "What was read from Azure for each VM, and what it means: region advice "
    "(the VM PUT has the final word), the subscription feature, the FIPS flag, "
    "the guest agent, the image. Refusals say why. Nothing has been changed.",
    "plan": "The dry run: the exact requests and guest scripts, with risk labels, rendered "
    "from the same plan `fipswizard plan` prints. Nothing has been sent.",
    "confirm": "What the run will ask before its first write, per VM: each disruptive or "
    'irreversible step, and the fixes validation may need ("if needed"). '
    "[x] approved, [ ] declined: Space toggles a line (a VM's line toggles all of "
    "it), a approves all, n declines all. Nothing is asked mid-run; a declined step "
    "stops that VM before it, and the saved recipe records it. Running starts "
    "writes; every write is journalled so the run can be resumed or rolled back.",
    "run": "Live progress per VM and the log. Cancelling stops safely: the journal keeps the "
    "state, so the run can be resumed (Resume on the first screen) or rolled back.",
    "validation": "Extension validation results per VM, the diagnosis when it failed, and "
    "the fix it needed, applied or declined as approved before the run.",
    "summary": "The outcome per VM. Save the recipe to replay it headless with "
    "`fipswizard apply`, or roll back what the run changed.",
    "rollback": "What rollback will undo, newest first, from the journal. Rolling back approves "
    "every undo; a guest reboot that may be needed is listed per VM: untick it to leave that "
    "VM to reboot by hand later.",
    "question": "You asked to be asked again before each disruptive step: read the diagnosis "
    "and the cost, then accept or decline. The same step asked on several VMs is one "
    "question: untick the VMs to leave out.",
    "dialog": "Read the message; Enter or Escape closes it.",
    "help": "Keys and help for the screen you came from.",
}


def commands_for(screen_id: str) -> tuple[Command, ...]:
    """The screen's own commands, then the global ones it does not redefine."""
    own = SCREENS[screen_id]
    keys = {c.key for c in own}
    return own + tuple(c for c in GLOBAL if c.key not in keys)


def bindings_for(screen_id: str) -> list[BindingType]:
    """BINDINGS for a screen (global commands live on the App)."""
    return [
        Binding(c.key, c.action, c.description, show=c.show, priority=c.key != "escape")
        for c in SCREENS[screen_id]
    ]


def app_bindings() -> list[BindingType]:
    return [
        Binding(c.key, c.action.removeprefix("app."), c.description, show=c.show) for c in GLOBAL
    ]


def _key_label(key: str) -> str:
    return key.replace("ctrl+", "^").replace("escape", "esc").upper() if len(key) > 1 else key


def help_markup(screen_id: str, focused: str = "") -> str:
    """The F1 help of a screen: what it is for, its keys, and the focused field's help."""
    lines = [f"[b]{escape(screen_id.title())}[/b]", "", escape(SCREEN_HELP.get(screen_id, "")), ""]
    lines += [
        f"[b]{escape(_key_label(c.key)):>8}[/b]  {escape(c.description)}: {escape(c.help)}"
        for c in commands_for(screen_id)
    ]
    lines += [
        "",
        "Tab / Shift+Tab move between fields; Enter activates; Ctrl+P opens the "
        "command palette. The mouse works too.",
    ]
    if focused:
        lines += ["", f"[b]Focused:[/b] {escape(focused)}"]
    return "\n".join(lines)


class WizardCommands(Provider):
    """The current screen's commands (and the global ones) in the command palette."""

    def _commands(self) -> tuple[Command, ...]:
        screen_id = getattr(self.screen, "COMMANDS_ID", "home")
        return commands_for(screen_id if screen_id in SCREENS else "home")

    def _run(self, command: Command) -> None:
        namespace = self.app if command.action.startswith("app.") else self.screen
        self.app.call_later(self.app.run_action, command.action.removeprefix("app."), namespace)

    async def discover(self) -> Hits:
        for c in self._commands():
            yield DiscoveryHit(c.description, partial(self._run, c), help=c.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for c in self._commands():
            score = matcher.match(c.description)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(c.description), partial(self._run, c), help=c.help
                )
