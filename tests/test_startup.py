"""Start-up and client costs (issue 9 item 4): one SSL context per process and CA bundle,
none with a CA store for loopback http://; the offline plan needs no event loop."""

from __future__ import annotations

import ssl
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from fipswizard.azure import arm
from fipswizard.azure.arm import ArmClient, ssl_context
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.context import Target
from fipswizard.recipe import Recipe, RecipeTarget, dump_recipe, load_recipe
from fipswizard.secrets import Secret
from fipswizard.session import (
    VMS_IN_FLIGHT_PER_SUBSCRIPTION,
    Options,
    default_concurrency,
    for_recipe,
)


def _client(endpoint: str) -> ArmClient:
    cloud = CLOUDS["AzureCloud"]
    if endpoint != cloud.arm_endpoint:
        cloud = replace(cloud, arm_endpoint=endpoint)
    return ArmClient(cloud, StaticToken(Secret("t")), correlation_id="c")


async def test_one_ssl_context_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many clients to public Azure build the CA store once; loopback http:// loads none."""
    built: list[object] = []
    real = httpx.create_ssl_context

    def counting(*args: object, **kwargs: object) -> ssl.SSLContext:
        verify = args[0] if args else kwargs.get("verify", True)
        if not isinstance(verify, ssl.SSLContext):  # a new context, CA store and all
            built.append(verify)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx, "create_ssl_context", counting)
    monkeypatch.setattr(arm, "_CONTEXTS", {})
    # httpx's transport would build its own context from verify=True; count those too.
    monkeypatch.setattr("httpx._transports.default.create_ssl_context", counting)
    clients = [_client(CLOUDS["AzureCloud"].arm_endpoint) for _ in range(5)]
    for c in clients:
        await c.aclose()
    assert built == [True], built  # ours, once; httpx reuses it for every client
    loopback = _client("http://127.0.0.1:8080")
    await loopback.aclose()
    assert built == [True], built
    plain = ssl_context(None, "http")
    assert plain.cert_store_stats()["x509_ca"] == 0  # no CA store loaded for loopback
    assert plain.verify_mode == ssl.CERT_REQUIRED  # and a stray TLS connection fails closed
    assert ssl_context(None) is ssl_context(None)


def test_bad_ca_bundle_is_bad_input(tmp_path: Path) -> None:
    from fipswizard.errors import BadInput

    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(BadInput, match="could not be loaded"):
        ssl_context(str(bad))


def _fleet(vms: int, subscriptions: int, **recipe: object) -> Recipe:
    targets = tuple(
        RecipeTarget(Target(f"sub-{i % subscriptions}", "rg", f"vm{i:04d}"), "none")
        for i in range(vms)
    )
    return Recipe(targets=targets, **recipe)  # type: ignore[arg-type]


def test_default_concurrency_follows_the_fleet() -> None:
    """Enough VMs in flight per subscription to use its write budget, never more than there
    are VMs, never past the recipe ceiling of 256 (issue 9: 8 took 3.6x the bound)."""
    per_sub = VMS_IN_FLIGHT_PER_SUBSCRIPTION
    assert default_concurrency(_fleet(1000, 5)) == 256
    assert default_concurrency(_fleet(200, 1)) == per_sub
    assert default_concurrency(_fleet(3, 1)) == 3
    assert default_concurrency(_fleet(per_sub + 10, 2)) == per_sub + 10
    lopsided = (*_fleet(100, 1).targets, RecipeTarget(Target("other", "rg", "lone"), "none"))
    assert default_concurrency(Recipe(targets=lopsided)) == per_sub + 1
    skipped = tuple(replace(t, skip="refused at preflight") for t in _fleet(5, 1).targets)
    assert default_concurrency(Recipe(targets=skipped)) == 1


def test_concurrency_flag_then_recipe_then_default(tmp_path: Path) -> None:
    fleet = _fleet(1000, 5)
    assert for_recipe(Options(), fleet).concurrency == 256  # not set anywhere: chosen
    assert for_recipe(Options(concurrency=5), fleet).concurrency == 5  # the flag wins
    assert for_recipe(Options(), replace(fleet, concurrency=12)).concurrency == 12
    # A recipe file without the key is "not set"; with another value it is the operator's.
    path = tmp_path / "r.toml"
    body = (
        'version = 1\n[[target]]\nsubscription = "11111111-2222-3333-4444-555555555555"\n'
        'resource_group = "g"\nvm = "v"\n'
    )
    path.write_text(body)
    assert for_recipe(Options(), load_recipe(path)).concurrency == 1
    path.write_text("concurrency = 3\n" + body)
    assert for_recipe(Options(), load_recipe(path)).concurrency == 3
    # 8 written on purpose is the operator's 8, and a recipe without it saves without it
    path.write_text("concurrency = 8\n" + body)
    assert for_recipe(Options(), load_recipe(path)).concurrency == 8
    assert "concurrency" not in dump_recipe(_fleet(3, 1))
    assert "concurrency = 8" in dump_recipe(replace(_fleet(3, 1), concurrency=8))


def test_plan_offline_runs_no_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`plan --offline` reads nothing, so it builds the plan without starting an event loop."""
    import asyncio

    from fipswizard.headless import cli

    def no_loop(*args: object, **kwargs: object) -> None:
        raise AssertionError("plan --offline started an event loop")

    monkeypatch.setattr(asyncio, "run", no_loop)
    monkeypatch.setattr(asyncio, "new_event_loop", no_loop)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        'version = 1\nguest = "none"\n[[target]]\n'
        'subscription = "11111111-2222-3333-4444-555555555555"\nresource_group = "rg"\nvm = "vm1"\n'
    )
    assert cli.main(["plan", str(recipe), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "Current state not read (--offline)." in out and "vm1" in out


def test_tui_start_up_path_loads_no_plan_or_guest_modules() -> None:
    """The TUI paints before the plan and guest stack loads: importing the app and the session
    wiring (what run_app does before the first paint) must not pull them in. A fresh
    interpreter, because this test process has long imported them."""
    import subprocess
    import sys

    code = (
        "import sys, screens.app, fipswizard.session\n"
        "heavy = sorted(m for m in sys.modules if m.startswith("
        "('fipswizard.engine.plan', 'fipswizard.guest.choose', 'fipswizard.guest.recipes',"
        " 'fipswizard.guest.runners', 'fipswizard.azure.arm', 'screens.wizard')))\n"
        "print(heavy)\n"
    )
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout
