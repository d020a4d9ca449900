"""Simulated guests running fipswizard's batch scripts (`# fipswizard-script: engine/batch/*`).

A batch is a bash program of the engine's own (fipswizard/guest/batch.py documents the format):
here-documents that set `fw_lib` and `fw_t`, each part followed by a line
`fw_part NAME WHEN GO_ON SECRETS BUDGET LIB`. A real VM runs it with bash; the simulated guest
reads the same lines and runs each part through its own handlers, doing what the bash
functions do:
- WHEN `needed` / `done`: the part runs only if the previous part exited 10 / 0; otherwise it
  is skipped and the one after it sees "not run" (bash: `fw_prev=-`);
- each part sees no `FW_SECRET_*` variable except those SECRETS names (`-`: none);
- stdout is captured as `$(...)` captures it (trailing newlines dropped); when longer than
  BUDGET bytes only the tail is kept, and then everything up to its first newline is dropped
  (`${out#*$'\\n'}` leaves a text without a newline as it is);
- an exit code not in GO_ON prints `__FW_STOP=<name>` and ends the batch with exit code 0.
Written from the bash semantics above, not from the engine's parser; tests/guest/test_batch.py
runs the same script through the real bash and through this reader and compares the output.
Test knob: `guest.extra["batch_killed_after"] = N`: the batch's bash is killed (SIGKILL: the
OOM killer, an operator's `kill`, the script's timeout) after N parts ran; the rest never runs,
the output so far comes back and the exit code is 137.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from fipswizard.sandbox.guest_model import ScriptResult, SimGuest

RunPart = Callable[[str, Mapping[str, str]], ScriptResult]

SECRET_PREFIX = "FW_SECRET_"
_READ = re.compile(r"^IFS= read -r -d '' (fw_lib|fw_t) <<'(FW_[A-Z]+_[0-9a-f]+)' \|\| :$")
_PART = re.compile(r"^fw_part (\S+) (always|needed|done) (\S+) (\S+) (\d+) ([01])$")


def run_batch(guest: SimGuest, script: str, params: Mapping[str, str]) -> ScriptResult:
    killed = guest.extra.get("batch_killed_after")
    return interpret(script, params, guest.run_script, None if killed is None else int(killed))


def interpret(
    script: str, params: Mapping[str, str], run: RunPart, killed_after: int | None = None
) -> ScriptResult:
    """Run a batch script's parts with `run(text, environment)`, as bash would run them."""
    variables = {"fw_lib": "", "fw_t": ""}
    out: list[str] = []
    err: list[str] = []
    previous: int | None = None
    ran = 0
    lines = script.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if read := _READ.match(line):
            end = lines.index(read.group(2), i)
            variables[read.group(1)] = "\n".join(lines[i:end]) + "\n"
            i = end + 1
            continue
        part = _PART.match(line)
        if part is None:
            continue
        name, when, go_on, keep, budget, lib = part.groups()
        if (when == "needed" and previous != 10) or (when == "done" and previous != 0):
            previous = None
            continue
        if killed_after is not None and ran >= killed_after:
            return 137, "".join(out), "".join(err)
        ran += 1
        text = (variables["fw_lib"] if lib == "1" else "") + variables["fw_t"]
        allowed = set(keep.split(",")) if keep != "-" else set()
        env = {k: v for k, v in params.items() if not k.startswith(SECRET_PREFIX) or k in allowed}
        rc, stdout, stderr = run(text, env)
        err.append(stderr)
        captured = stdout.rstrip("\n")
        trunc = 0
        if len(captured.encode()) > int(budget):
            captured = captured.encode()[-int(budget) :].decode(errors="replace")
            if "\n" in captured:
                captured = captured.split("\n", 1)[1]
            trunc = 1
        out.append(f"__FW_PART={name}\n{captured}\n__FW_END={name} rc={rc} trunc={trunc}\n")
        previous = rc
        if go_on != "any" and str(rc) not in go_on.split(","):
            out.append(f"__FW_STOP={name}\n")
            break
    return 0, "".join(out), "".join(err)
