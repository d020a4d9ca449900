"""Property: whatever a recipe file holds, fipswizard exits 0 or 2, never with a traceback,
and after a validation error sends no ARM request and creates no journal.

Hypothesis mutates a valid recipe (values replaced by any TOML value, keys added or
removed, lines of junk, whole binary files, deep nesting), instead of a hand-kept list.
Budget: 150 examples, 2 s deadline each, no example database (nothing written into the
repository); about 5 s on 2 cores.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fipswizard.errors import RecipeError, RecipeProblems
from fipswizard.headless import commands
from fipswizard.headless.cli import main
from fipswizard.recipe import TARGET_KEYS, TOP_KEYS, load_recipe

BUDGET = settings(
    max_examples=150,
    deadline=2000,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
SUB = "11111111-2222-3333-4444-555555555555"
BASE = f"""version = 1
cloud = "AzureCloud"
guest = "none"
fix = "keyvault"
feature = "register"
concurrency = 4
validate = true
compute_api = "2025-04-01"

[keyvault]
vault_id = "/subscriptions/{SUB}/resourceGroups/kv/providers/Microsoft.KeyVault/vaults/v"
certificate_url = "https://v.vault.azure.net/secrets/c/1"

[secrets]
pro_token = "env:PRO"

[custom_cloud]
scope = "https://management.azure.com/.default"

[[target]]
subscription = "{SUB}"
resource_group = "rg"
vm = "vm1"

[[target]]
subscription = "{SUB}"
resource_group = "rg"
vm = "vm2"
guest = "auto"
skip = "left out"
decline = ["guest-reboot"]
""".splitlines()


def toml(value: Any) -> str:
    """Any Python value as a TOML literal (a tiny encoder: tests only)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items()) + "}"


names = st.sampled_from(sorted(TOP_KEYS | TARGET_KEYS | {"arm_endpoint", "ca_bundle", "x"}))
texts = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["vm1\n", " rg", "auto", "none", "a" * 300, "http://x", "env:X", "file:"]),
    st.integers(100, 120_000).map(lambda n: "v" * n),
)
scalars = st.one_of(
    texts, st.integers(-(2**70), 2**70), st.booleans(), st.floats(), st.sampled_from([1, 0])
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def recipe_files(draw: st.DrawFn) -> bytes:
    lines = list(BASE)
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["value", "insert", "delete", "junk"]))
        if op == "value" and "=" in lines[n]:
            lines[n] = lines[n].split("=", 1)[0] + "= " + toml(draw(values))
        elif op == "insert":
            lines.insert(
                n,
                f"{json.dumps(draw(st.one_of(names, st.text(max_size=300))))} = "
                f"{toml(draw(values))}",
            )
        elif op == "delete":
            del lines[n]
        else:
            lines.insert(n, draw(st.text(max_size=60)))
    text = "\n".join(lines) + "\n"
    whole = draw(st.sampled_from(["text", "text", "text", "binary", "deep", "latin-1"]))
    if whole == "binary":
        return draw(st.binary(min_size=1, max_size=200))
    if whole == "deep":
        depth = draw(st.integers(100, 6000))
        return (f"version = 1\nx = {'[' * depth}{']' * depth}\n").encode()
    if whole == "latin-1":
        return text.encode("utf-8", "surrogatepass") + b"\n# caf\xe9\n"
    return text.encode("utf-8", "surrogatepass")


@given(content=recipe_files())
@BUDGET
def test_any_recipe_file_exits_0_or_2_and_writes_nothing_when_refused(content: bytes) -> None:
    requests: list[httpx.Request] = []

    def arm(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(400, json={"error": {"code": "Refused", "message": "test"}})

    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as mp:
        folder = Path(tmp)
        mp.setenv("XDG_STATE_HOME", str(folder / "state"))
        mp.setenv("FIPSWIZARD_ACCESS_TOKEN", "hypothesis-token")
        mp.setattr(
            commands,
            "options",
            lambda args, real=commands.options: replace(
                real(args), transport=httpx.MockTransport(arm)
            ),
        )
        recipe = folder / "r.toml"
        recipe.write_bytes(content)
        try:
            load_recipe(recipe)
            valid = True
        except RecipeError as err:
            valid = False
            # every problem on its own bounded line, at most MAX_SHOWN of them (+ header, "more")
            lines = str(err).splitlines()
            assert len(lines) <= RecipeProblems.MAX_SHOWN + 2, str(err)
            assert all(len(line) < 600 for line in lines), str(err)
        err_text = io.StringIO()
        with contextlib.redirect_stderr(err_text):
            code = main(["plan", str(recipe), "--offline"])
        assert code in (0, 2), err_text.getvalue()
        event(f"valid={valid} exit={code}")
        if code == 2:
            shown = err_text.getvalue()
            assert shown and len(shown) < 600 * (RecipeProblems.MAX_SHOWN + 2), shown
        if not valid:
            assert code == 2
            with contextlib.redirect_stderr(io.StringIO()):
                assert main(["apply", str(recipe), "--yes"]) == 2
            assert requests == []
            assert sorted(os.listdir(folder)) == ["r.toml", "state"]  # no journal
            assert recipe.read_bytes() == content
