"""Property: whatever a journal holds, `rollback` never ends in a traceback; when it refuses
the journal (exit 2) it has sent no request to Azure and left the file byte-identical.

Hypothesis mutates a real journal (records built from the plan `apply` would run): any JSON
value at any field, fields removed or added, lines replaced by other JSON or junk, the file
cut at any byte or replaced by binary. Rollback runs against the simulated Azure in-process.
Budget: 120 examples, 3 s deadline each, no example database; about 10 s on 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import tempfile
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fipswizard.context import Target
from fipswizard.headless import commands
from fipswizard.headless.cli import main
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe
from fipswizard.sandbox import SandboxAzure, demo_estate
from fipswizard.session import Options, make_plan
from tests.inproc import FAST

BUDGET = settings(
    max_examples=120,
    deadline=3000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ARM = "https://management.azure.com"
SUB = "11111111-2222-3333-4444-555555555555"
KINDS = ("feature", "vm-flag", "validate-customscript", "fix-keyvault")


@cache
def base_records() -> tuple[str, ...]:
    """A journal as `apply` writes it for two VMs (ARM steps only: no guest scripts)."""
    recipe = Recipe(
        targets=tuple(
            RecipeTarget(Target(SUB, "fips-demo", v), "none")
            for v in ("ubuntu2204-web", "rhel94-app")
        ),
        fix="keyvault",
        keyvault={
            "vault_id": f"/subscriptions/{SUB}/resourceGroups/kv/providers/"
            "Microsoft.KeyVault/vaults/v",
            "certificate_url": "https://v.vault.azure.net/secrets/c/1",
        },
    )
    plan = asyncio.run(make_plan(recipe, Options(arm_endpoint=ARM, settings=FAST), offline=True))
    out: list[dict[str, Any]] = [
        {"event": "recipe", "text": dump_recipe(recipe), "endpoint": ARM},
        {"event": "run-start", "correlation_id": "c", "targets": [], "resumed": []},
    ]
    for unit in plan.units:
        for step in [*unit.steps, *unit.fixes.values()]:
            if step.kind in KINDS:
                out.append(
                    {
                        "event": "step-begin",
                        "target": unit.key,
                        "step_id": step.id,
                        "step": step.record(),
                        "undo": {"previous": False, "secrets": []},
                    }
                )
                out.append(
                    {"event": "step-end", "target": unit.key, "step_id": step.id, "status": "ok"}
                )
    out.append({"event": "run-end", "outcomes": {}})
    return tuple(
        json.dumps({"ts": 1.5 + n, "run": "run1", **r}, sort_keys=True) for n, r in enumerate(out)
    )


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(["step-begin", "recipe", "vm-flag", "read-only"]),
        st.just(100_000).map(lambda n: "x" * n),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=5,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _parsed(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:  # an earlier mutation made it junk
        return None


@st.composite
def journals(draw: st.DrawFn) -> bytes:
    lines = list(base_records())
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["set", "delete", "line", "junk", "duplicate"]))
        if op in ("set", "delete") and len(_paths(_parsed(lines[n]))) > 1:
            record = json.loads(lines[n])
            path = draw(st.sampled_from(_paths(record)[1:]))
            holder = record
            for key in path[:-1]:
                holder = holder[key]
            if op == "set":
                holder[path[-1]] = draw(json_values)
            else:
                del holder[path[-1]]
            lines[n] = json.dumps(record)
        elif op in ("line", "set", "delete"):
            lines[n] = json.dumps(draw(json_values))
        elif op == "junk":
            lines[n] = draw(st.text(max_size=40)).replace("\n", " ")
        else:
            lines.insert(n, lines[n])
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    shape = draw(st.sampled_from(["whole", "whole", "whole", "cut", "binary"]))
    if shape == "cut":
        return data[: draw(st.integers(0, len(data)))]
    if shape == "binary":
        return draw(st.binary(min_size=1, max_size=300))
    return data


@pytest.fixture(scope="module")
def sandbox() -> SandboxAzure:
    return SandboxAzure(demo_estate(), op_seconds=0.01, registration_seconds=0.02)


@given(content=journals())
@BUDGET
def test_any_journal_rollback_never_tracebacks_and_refuses_before_writing(
    sandbox: SandboxAzure, content: bytes
) -> None:
    sandbox.log.clear()
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        folder = Path(tmp)
        mp.setenv("XDG_STATE_HOME", str(folder / "state"))
        mp.setenv("FIPSWIZARD_ACCESS_TOKEN", "hypothesis-token")
        mp.setattr(
            commands,
            "options",
            lambda args, real=commands.options: replace(
                real(args), settings=FAST, transport=sandbox.transport()
            ),
        )
        journal = folder / "j.jsonl"
        journal.write_bytes(content)
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["--arm-endpoint", ARM, "rollback", str(journal), "--yes"])
        event(f"exit={code}")
        assert code in (0, 1, 2), err.getvalue()
        if code == 2:
            assert sandbox.log.entries() == [], err.getvalue()
            assert journal.read_bytes() == content
            assert 0 < len(err.getvalue()) < 1000, err.getvalue()
