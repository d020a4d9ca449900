"""Several guest scripts in one Run Command (issue 9): the batch script and its output.

On Azure a Run Command takes tens of seconds, runs one at a time per VM and counts against the
subscription's write budget, while each recipe script is small and checks before it changes.
So the engine sends one script per phase: the probe with every check of the plan (a re-run that
changes nothing costs one Run Command), the changes of consecutive recipe steps (check, apply,
verify per step), and the after-reboot checks. Each part is still the exact script a step
would run alone (`recipes.script_text`): the batch only sequences them.

Format (`batch_script`; the sandbox's simulated guests read the same format,
sandbox/guest_batch.py, and tests/guest/test_batch.py runs it with the real bash):
- the marker line `# fipswizard-script: engine/batch/<label>`, then the `fw_part` function;
- lib.sh, which every recipe script starts with, once, in the variable `fw_lib`;
- per part: its text in `fw_t` (a quoted here-document whose delimiter holds a hash of the
  text, so no text can end it early), then `fw_part NAME WHEN GO_ON SECRETS BUDGET LIB`.
  WHEN is `always`, `needed` (only if the previous part exited NEEDED: an apply after its
  check) or `done` (only if the previous part exited DONE: a verify after its apply).
  GO_ON lists the exit codes after which the batch goes on (`any`: always); any other code
  ends the batch (`__FW_STOP=<name>`). SECRETS names the `FW_SECRET_*` variables this part
  may see (`-`: none): every other part runs without them. BUDGET is how many bytes of the
  part's stdout are kept (the tail), so the whole answer fits Run Command's 4,096 bytes.
- Each part runs in its own bash with stdin from /dev/null; its stdout comes back between
  `__FW_PART=<name>` and `__FW_END=<name> rc=<rc> trunc=<0|1>`; its stderr passes through.

A part whose end line did not come back (the output was cut, the VM went down, the script
timed out) is unknown: callers check again rather than guess.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fipswizard.context import ScriptResult
from fipswizard.guest.protocol import DONE, MARKER, MAX_SCRIPT_BYTES, NEEDED, RC_VAR

if TYPE_CHECKING:
    from fipswizard.context import Context
    from fipswizard.engine.steps import Step

OUTPUT_BYTES = 4096  # Run Command returns the last 4,096 bytes of stdout (azure-platform.md 3.1)
# Kept free of the parts' output: the stop line and the runner's own exit-code line.
RESERVED_BYTES = 200
MARKER_BYTES = 60  # a part's two marker lines besides its name twice (`__FW_PART=`, rc, trunc)
# A part is never given less (a failure's reason must come back); if the parts' shares do
# not fit, the earliest answers are cut off and the steps they belong to are checked alone.
MIN_BUDGET = 160
WHENS = ("always", "needed", "done")

_SHELL = r"""export LC_ALL=C
fw_prev=
# fw_part NAME WHEN GO_ON SECRETS BUDGET LIB: run the script in $fw_t (after $fw_lib if LIB=1)
fw_part() {
  local name=$1 when=$2 go_on=$3 keep=$4 budget=$5 text=$fw_t out rc trunc=0
  case $when in
    needed) [ "$fw_prev" = 10 ] || { fw_prev=-; return 0; } ;;
    done) [ "$fw_prev" = 0 ] || { fw_prev=-; return 0; } ;;
  esac
  [ "$6" = 1 ] && text=$fw_lib$text
  out=$(fw_alone "$keep" "$text" </dev/null)
  rc=$?
  if [ "${#out}" -gt "$budget" ]; then
    out=${out: -$budget}
    out=${out#*$'\n'}
    trunc=1
  fi
  printf '__FW_PART=%s\n%s\n__FW_END=%s rc=%s trunc=%s\n' "$name" "$out" "$name" "$rc" "$trunc"
  fw_prev=$rc
  case ",$go_on," in
    *,any,* | *",$rc,"*) ;;
    *) printf '__FW_STOP=%s\n' "$name"; exit 0 ;;
  esac
}
# fw_alone KEEP TEXT: TEXT in a bash of its own, without the FW_SECRET_* variables not in KEEP.
fw_alone() {
  (
    for v in $(compgen -e); do
      case $v in FW_SECRET_*) case ",$1," in *",$v,"*) ;; *) unset "$v" ;; esac ;; esac
    done
    exec bash -c "$2" fipswizard-part
  )
}
"""

# What `fipswizard plan` says about it, above the wrapper's own text.
HOW_SENT = (
    "Each VM's scripts below travel in as few Run Commands as the job needs: the probe carries "
    "every later check (read-only); the changes of consecutive recipe steps go as one script "
    "that runs, per step, its check, then its apply and verify only when the check says "
    "needed, and stops at the first failure (the journal records each step before it is "
    "sent); after the reboot one script runs the after-reboot checks and clears the marker. "
    "Every part is sent exactly as shown, lib.sh once, inside this wrapper:"
)


def wrapper_text() -> str:
    return _SHELL.rstrip("\n")


_PART = re.compile(r"^__FW_PART=(\S+)$")
_END = re.compile(r"^__FW_END=(\S+) rc=(\d+) trunc=([01])$")
_STOP = re.compile(r"^__FW_STOP=(\S+)$")


@dataclass(frozen=True)
class Part:
    """One script of a batch. `name` is unique in the batch ("<step id>/<phase>")."""

    name: str
    text: str
    when: str = "always"
    go_on: tuple[int, ...] | None = None  # None: the batch always goes on
    secrets: tuple[str, ...] = ()  # variable names (FW_SECRET_...) this part may see
    budget: int = 0  # 0: an equal share of PARTS_BYTES

    def __post_init__(self) -> None:
        if self.when not in WHENS:
            raise ValueError(f"part {self.name}: when={self.when!r}, allowed: {WHENS}")
        if not re.fullmatch(r"[A-Za-z0-9_.:/@+-]+", self.name):
            raise ValueError(f"part name {self.name!r}: letters, digits and ._:/@+- only")


@dataclass(frozen=True)
class PartResult:
    rc: int
    stdout: str
    truncated: bool

    def script_result(self, stderr: str = "") -> ScriptResult:
        return ScriptResult(self.rc, self.stdout, stderr)


@dataclass
class BatchResult:
    """What came back: the parts that ran to their end line, and where the batch stopped."""

    parts: dict[str, PartResult] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)  # begin line seen (ran, maybe not ended)
    stopped_at: str | None = None
    rc: int = 0  # the batch script's own exit code (0 unless it was killed or timed out)
    stderr: str = ""

    def get(self, name: str) -> PartResult | None:
        return self.parts.get(name)


def _delimiter(kind: str, text: str) -> str:
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"FW_{kind}_{digest}"


def _heredoc(variable: str, kind: str, text: str) -> list[str]:
    # `read -d ''` reads to the end of the here-document; it returns 1 there, hence `|| :`.
    end = _delimiter(kind, text)
    return [f"IFS= read -r -d '' {variable} <<'{end}' || :", text.rstrip("\n"), end]


def budgets(parts: Sequence[Part]) -> list[int]:
    """Each part's byte budget: what it asked for, the rest of what Run Command returns
    (less every part's two marker lines) shared equally, never below MIN_BUDGET."""
    markers = sum(2 * len(p.name) + MARKER_BYTES for p in parts)
    free = OUTPUT_BYTES - RESERVED_BYTES - markers - sum(p.budget for p in parts)
    shared = [p for p in parts if not p.budget]
    share = max(MIN_BUDGET, free // max(1, len(shared)))
    return [p.budget or share for p in parts]


def batch_script(label: str, parts: Sequence[Part], prelude: str | None = None) -> str:
    """The batch script running `parts` in order; `prelude` (lib.sh as recipes embed it) is
    sent once for every part that starts with it."""
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate part names in batch {label}: {names}")
    lines = [f"{MARKER}engine/batch/{label}", _SHELL.rstrip("\n")]
    lib = (prelude or "").rstrip("\n")
    shared = bool(lib) and any(p.text.startswith(lib + "\n") for p in parts)
    if shared:
        lines += _heredoc("fw_lib", "LIB", lib + "\n")
    for part, budget in zip(parts, budgets(parts), strict=True):
        uses_lib = shared and part.text.startswith(lib + "\n")
        body = part.text[len(lib) + 1 :] if uses_lib else part.text
        go_on = ",".join(map(str, part.go_on)) if part.go_on is not None else "any"
        keep = ",".join(part.secrets) or "-"
        lines += _heredoc("fw_t", "PART", body)
        lines.append(f"fw_part {part.name} {part.when} {go_on} {keep} {budget} {int(uses_lib)}")
    return "\n".join(lines) + "\n"


def parse_batch(result: ScriptResult) -> BatchResult:
    """The parts' results from the batch's stdout (lines outside the markers are ignored)."""
    out = BatchResult(rc=result.rc, stderr=result.stderr)
    current: str | None = None
    lines: list[str] = []
    for line in result.stdout.splitlines():
        if current is not None and (end := _END.match(line)) and end.group(1) == current:
            text = "\n".join(lines)
            out.parts[current] = PartResult(int(end.group(2)), text, end.group(3) == "1")
            current, lines = None, []
        elif begin := _PART.match(line):
            current, lines = begin.group(1), []
            out.started.add(current)
        elif stop := _STOP.match(line):
            out.stopped_at = stop.group(1)
        elif current is not None and not line.startswith(f"{RC_VAR}="):
            lines.append(line)
    return out


def read_parts(steps: Sequence[Step]) -> list[Part]:
    """Read-ahead parts: the read-only check script of each step that has one, once."""
    parts: list[Part] = []
    seen: set[str] = set()
    for step in steps:
        text = step.read_script()
        if text and text not in seen:
            seen.add(text)
            parts.append(Part(f"{step.id}/read", text))
    return parts


def remember(ctx: Context, parts: Sequence[Part], result: BatchResult) -> None:
    """Keep the read-ahead answers a later `check` may use: whole ones that say done or
    needed (anything else runs again alone, so its error comes with its own stderr)."""
    if ctx.reads is None:
        return
    for part in parts:
        got = result.get(part.name)
        if got is not None and not got.truncated and got.rc in (DONE, NEEDED):
            ctx.reads[part.text] = got.script_result()


def fitting(
    label: str, parts: Sequence[Part], optional: Sequence[Part], prelude: str | None
) -> tuple[str, list[Part]]:
    """The batch script of `parts` plus as many `optional` (read-ahead) parts as stay within
    the runner's script budget; (script, the optional parts included)."""
    extra = list(optional)
    while True:
        script = batch_script(label, [*parts, *extra], prelude)
        if len(script.encode()) <= MAX_SCRIPT_BYTES or not extra:
            return script, extra
        extra.pop()
