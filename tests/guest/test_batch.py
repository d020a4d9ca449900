"""The batch script (fipswizard/guest/batch.py) run by the real bash, and the simulated guests'
reading of it (fipswizard/sandbox/guest_batch.py) held to the same output.

The parts here are small shell scripts that exercise what a batch must get right: an apply
only after its check said needed, a verify only after its apply succeeded, a stop at the
first failure, secrets only for the part that asks, long output cut to its tail, text that
looks like shell syntax or like the wrapper's own markers."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping

import pytest

from fipswizard.context import ScriptResult
from fipswizard.guest.batch import (
    MIN_BUDGET,
    OUTPUT_BYTES,
    Part,
    batch_script,
    budgets,
    fitting,
    parse_batch,
)
from fipswizard.guest.protocol import MAX_SCRIPT_BYTES
from fipswizard.sandbox.guest_batch import interpret

LIB = '# lib\nfw_done() { echo "done=$*"; exit 0; }\nfw_needed() { echo "needed=$*"; exit 10; }'
SECRETS = {"FW_SECRET_PRO_TOKEN": "pro-secret-1", "FW_SECRET_TUXCARE_KEY": "tux-secret-2"}


def lib(body: str) -> str:
    return f"{LIB}\n{body}"


def bash(script: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    full = {"PATH": os.environ["PATH"], **env}
    done = subprocess.run(
        ["bash", "-c", script], env=full, capture_output=True, text=True, timeout=60, check=False
    )
    return done.returncode, done.stdout, done.stderr


def bash_part(text: str, env: Mapping[str, str]) -> tuple[int, str, str]:
    """What the simulated guest's reader hands each part to: here the real bash, so the
    comparison below is between the two ways of sequencing the same parts."""
    return bash(text, env)


PARTS = [
    # needed -> apply -> verify
    Part("a/check", lib('echo "seen=1"\nfw_needed "not yet"'), go_on=(0, 10)),
    Part(
        "a/apply",
        lib('echo "pro=${FW_SECRET_PRO_TOKEN:+set} tux=${FW_SECRET_TUXCARE_KEY:+set}"\nfw_done ok'),
        "needed",
        (0,),
        ("FW_SECRET_PRO_TOKEN",),
    ),
    Part("a/verify", lib('echo "pro=${FW_SECRET_PRO_TOKEN:+set}"\nfw_done holds'), "done", (0,)),
    # held: its apply and verify are skipped
    Part("b/check", lib('fw_done "already"'), go_on=(0, 10)),
    Part("b/apply", lib('echo "must not run"\nfw_done'), "needed", (0,)),
    Part("b/verify", lib('echo "must not run"\nfw_done'), "done", (0,)),
    # text that looks like the here-document's end, the markers, or unbalanced shell
    Part(
        "c/check",
        lib("cat <<'X'\nFW_PART_0000\n__FW_END=zz rc=0 trunc=0\n) \" '\nX\nfw_done odd"),
        go_on=(0,),
    ),
    # long output: the tail is kept
    Part("d/check", lib("for i in $(seq 1 400); do echo line$i; done\nfw_done long"), budget=200),
    # a failure stops the batch
    Part("e/check", lib('echo "stderr line" >&2\necho "error=broken"\nexit 3'), go_on=(0, 10)),
    Part("f/check", lib('echo "never"'), go_on=None),
]


def test_bash_and_the_simulated_guest_agree() -> None:
    script = batch_script("change", PARTS, LIB)
    real = bash(script, SECRETS)
    simulated = interpret(script, SECRETS, bash_part)
    assert real[0] == simulated[0] == 0
    # The stray stdin of the secret-less parts: nothing leaks into the output.
    assert real[1] == simulated[1]
    assert "pro-secret-1" not in real[1] and "tux-secret-2" not in real[1]
    assert "stderr line" in real[2] and "stderr line" in simulated[2]


def test_what_the_parser_reads() -> None:
    script = batch_script("change", PARTS, LIB)
    got = parse_batch(ScriptResult(*bash(script, SECRETS)))
    assert got.parts["a/check"].rc == 10 and "seen=1" in got.parts["a/check"].stdout
    # The apply saw its own secret only; the verify saw none.
    assert got.parts["a/apply"].stdout.splitlines()[0] == "pro=set tux="
    assert got.parts["a/verify"].stdout.splitlines()[0] == "pro="
    assert got.parts["b/check"].rc == 0
    assert "b/apply" not in got.parts and "b/verify" not in got.parts
    assert (
        got.parts["c/check"].rc == 0 and "__FW_END=zz rc=0 trunc=0" in got.parts["c/check"].stdout
    )
    long = got.parts["d/check"]
    assert long.truncated and long.stdout.endswith("done=long")
    assert len(long.stdout) <= 200 and long.stdout.splitlines()[0].startswith("line")
    assert got.parts["e/check"].rc == 3 and got.stopped_at == "e/check"
    assert "f/check" not in got.parts and "f/check" not in got.started


def test_a_killed_batch_gives_what_ran() -> None:
    """The simulated guest's knob: the batch's bash dies after N parts (exit 137)."""
    script = batch_script("change", PARTS[:3], LIB)
    rc, out, _ = interpret(script, SECRETS, bash_part, killed_after=2)
    got = parse_batch(ScriptResult(rc, out, ""))
    assert rc == 137 and set(got.parts) == {"a/check", "a/apply"}


def test_lib_sent_once_and_the_budget_shared() -> None:
    parts = [Part(f"s{i}/check", lib(f"fw_done {i}")) for i in range(6)]
    script = batch_script("read", parts, LIB)
    assert script.count("fw_needed()") == 1
    shares = budgets(parts)
    assert len(set(shares)) == 1 and shares[0] > MIN_BUDGET
    # Every part's share and its marker lines fit the 4,096 bytes Run Command returns.
    markers = sum(len(f"__FW_PART={p.name}\n__FW_END={p.name} rc=10 trunc=1\n") for p in parts)
    assert sum(shares) + markers + len("__FW_RC=0\n__FW_STOP=xxxxxxxx\n") <= OUTPUT_BYTES
    mixed = budgets([Part("p", "x", budget=1200), Part("q", "y")])
    assert mixed[0] == 1200 and 1200 + mixed[1] < OUTPUT_BYTES
    many = budgets([Part(f"step-{i}/read", "x") for i in range(40)])
    assert min(many) == MIN_BUDGET


def test_read_ahead_dropped_before_the_script_budget() -> None:
    big = "#" * (MAX_SCRIPT_BYTES // 3)
    must = [Part("must/check", lib("fw_done"))]
    optional = [Part(f"r{i}/read", lib(f"{big}\nfw_done {i}")) for i in range(5)]
    script, kept = fitting("read", must, optional, LIB)
    assert len(script.encode()) <= MAX_SCRIPT_BYTES
    assert 0 < len(kept) < 5 and kept == optional[: len(kept)]


def test_part_names_and_conditions_are_checked() -> None:
    with pytest.raises(ValueError, match="when"):
        Part("x", "y", when="sometimes")
    with pytest.raises(ValueError, match="letters"):
        Part("x y", "z")
    with pytest.raises(ValueError, match="duplicate"):
        batch_script("read", [Part("x", "a"), Part("x", "b")])
