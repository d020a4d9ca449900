"""`plan --offline` only describes requests, so it loads nothing that sends them (issue 9 item
4): no asyncio, httpx, azure.identity or textual; and no packaging unless a guest recipe is
named (its version specifiers are checked when it is read). A fresh interpreter runs the CLI's
`main`, then lists what it loaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IO_STACK = ("asyncio", "httpx", "azure.identity", "textual")
CODE = """
import contextlib, io, sys
from fipswizard.headless.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    rc = main(["plan", sys.argv[1], "--offline"])
assert rc == 0 and "Current state not read (--offline)." in out.getvalue(), (rc, out.getvalue())
heavy = {heavy!r}
print(sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + "." for h in heavy))))
"""


@pytest.mark.parametrize(
    ("guest", "heavy"),
    [
        ("none", (*IO_STACK, "packaging")),
        ("auto", (*IO_STACK, "packaging")),  # the probe only: the recipe is chosen at run time
        ("ubuntu", IO_STACK),  # a named recipe's scripts, read from its file
    ],
)
def test_plan_offline_loads_no_io_stack(
    guest: str, heavy: tuple[str, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'version = 1\nguest = "{guest}"\n[[target]]\n'
        'subscription = "11111111-2222-3333-4444-555555555555"\nresource_group = "rg"\nvm = "vm1"\n'
    )
    out = subprocess.run(
        [sys.executable, "-c", CODE.format(heavy=heavy), str(recipe)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout
