"""Clouds (endpoints, overrides, http:// refusal) and credentials (env token, azure-identity)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

from fipswizard.azure.clouds import CLOUDS, Cloud, is_loopback, resolve_cloud
from fipswizard.azure.credentials import (
    TOKEN_ENV,
    IdentityToken,
    StaticToken,
    credential_for,
)
from fipswizard.errors import AuthError, BadInput, ExitCode
from fipswizard.secrets import Secret
from fipswizard.session import Services

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- clouds


def test_known_clouds_match_reference_section_7() -> None:
    public, gov = CLOUDS["AzureCloud"], CLOUDS["AzureUSGovernment"]
    assert public == Cloud(
        "AzureCloud",
        "https://management.azure.com",
        "login.microsoftonline.com",
        "https://management.azure.com/.default",
    )
    assert gov.arm_endpoint == "https://management.usgovcloudapi.net"
    assert gov.authority == "login.microsoftonline.us"
    assert gov.scope == "https://management.core.usgovcloudapi.net/.default"


def test_resolve_by_name_case_insensitive_and_unknown_names() -> None:
    assert resolve_cloud("azureusgovernment") is CLOUDS["AzureUSGovernment"]
    with pytest.raises(BadInput, match="AzureCloud, AzureUSGovernment, custom"):
        resolve_cloud("AzureGermany")


def test_custom_cloud_needs_endpoint_and_authority() -> None:
    with pytest.raises(BadInput) as both:
        resolve_cloud("custom")
    assert "arm_endpoint" in str(both.value) and "authority" in str(both.value)
    with pytest.raises(BadInput) as one:
        resolve_cloud("custom", arm_endpoint="https://management.azure.eaglex.ic.gov/")
    assert "authority" in str(one.value) and "arm_endpoint" not in str(one.value)
    with pytest.raises(BadInput, match="arm_endpoint"):
        resolve_cloud("custom", authority="login.microsoftonline.eaglex.ic.gov")


def test_custom_cloud_defaults_scope_to_endpoint() -> None:
    cloud = resolve_cloud(
        "custom",
        arm_endpoint="https://management.azure.eaglex.ic.gov/",
        authority="https://login.microsoftonline.eaglex.ic.gov/",
    )
    assert cloud.name == "custom"
    assert cloud.arm_endpoint == "https://management.azure.eaglex.ic.gov"
    assert cloud.authority == "login.microsoftonline.eaglex.ic.gov"
    assert cloud.scope == "https://management.azure.eaglex.ic.gov/.default"
    explicit = resolve_cloud(
        "custom",
        arm_endpoint="https://arm.example",
        authority="login.example",
        scope="https://audience.example/.default",
    )
    assert explicit.scope == "https://audience.example/.default"


def test_endpoint_override_replaces_only_the_endpoint() -> None:
    cloud = resolve_cloud("AzureUSGovernment", arm_endpoint="http://127.0.0.1:8443/")
    assert cloud.arm_endpoint == "http://127.0.0.1:8443"
    assert cloud.authority == "login.microsoftonline.us"
    assert cloud.scope == CLOUDS["AzureUSGovernment"].scope
    assert CLOUDS["AzureUSGovernment"].arm_endpoint == "https://management.usgovcloudapi.net"


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080", "http://127.9.8.7", "http://[::1]:9000", "http://localhost:1234"],
)
def test_plain_http_allowed_for_loopback(url: str) -> None:
    assert resolve_cloud("AzureCloud", arm_endpoint=url).arm_endpoint == url


@pytest.mark.parametrize(
    "url",
    [
        "http://management.azure.com",
        "http://10.0.0.4:8080",
        "http://127.0.0.1.nip.io",
        "http://localhost.example.com",
        "http://[::2]",
    ],
)
def test_plain_http_refused_elsewhere(url: str) -> None:
    with pytest.raises(BadInput, match="plain http://.*loopback"):
        resolve_cloud("AzureCloud", arm_endpoint=url)
    with pytest.raises(BadInput, match="loopback"):
        resolve_cloud("custom", arm_endpoint=url, authority="login.example")


@pytest.mark.parametrize(
    "url", ["ftp://arm.example", "management.azure.com", "https://u:p@arm.example", "https://x?a=1"]
)
def test_malformed_endpoints_refused(url: str) -> None:
    with pytest.raises(BadInput):
        resolve_cloud("AzureCloud", arm_endpoint=url)


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("LOCALHOST")
    assert not is_loopback("128.0.0.1") and not is_loopback("example.com")


def test_http_authority_refused() -> None:
    with pytest.raises(BadInput, match="https"):
        resolve_cloud(
            "custom", arm_endpoint="https://arm.example", authority="http://login.example"
        )


def test_ca_bundle_must_exist(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="CA bundle"):
        resolve_cloud("AzureCloud", ca_bundle=str(tmp_path / "missing.pem"))
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    assert resolve_cloud("AzureCloud", ca_bundle=str(pem)).ca_bundle == str(pem)


# ---------------------------------------------------------------- credentials


async def test_env_token_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "Bearer eyJ.env-token-value.sig\n")
    provider = Services().credential_for(CLOUDS["AzureCloud"])  # a real run's default
    assert isinstance(provider, StaticToken)
    token = await provider.token()
    assert token.reveal() == "eyJ.env-token-value.sig"
    assert "env-token" not in repr(provider) + str(token) + repr(token)


async def test_without_env_token_uses_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert isinstance(Services().credential_for(CLOUDS["AzureCloud"]), IdentityToken)
    monkeypatch.setenv(TOKEN_ENV, "   ")
    assert isinstance(Services().credential_for(CLOUDS["AzureCloud"]), IdentityToken)
    assert isinstance(credential_for(CLOUDS["AzureCloud"], " "), IdentityToken)


async def test_empty_static_token_is_an_auth_error() -> None:
    with pytest.raises(AuthError, match="az login"):
        await StaticToken(Secret("")).token()


def test_env_token_never_imports_azure_identity() -> None:
    code = (
        "import asyncio, sys\n"
        "from fipswizard.azure.clouds import CLOUDS\n"
        "from fipswizard.session import Services\n"
        "from fipswizard.azure.arm import ArmClient\n"
        "p = Services().credential_for(CLOUDS['AzureCloud'])\n"
        "assert asyncio.run(p.token()).reveal() == 'tok-1234'\n"
        "assert not [m for m in sys.modules if m.startswith('azure.identity')], 'imported'\n"
        "import azure.identity\n"  # proves the check above can see the module when loaded
        "assert 'azure.identity' in sys.modules\n"
        "print('ok')\n"
    )
    env = {**os.environ, TOKEN_ENV: "tok-1234", "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


class FakeAccessToken:
    def __init__(self, token: str, expires_on: int) -> None:
        self.token, self.expires_on = token, expires_on


class FakeIdentity:
    """Stands in for azure.identity: records calls, hands out numbered tokens."""

    def __init__(self, lifetime: int = 3600, fail: Exception | None = None) -> None:
        self.lifetime, self.fail = lifetime, fail
        self.now = 1_000_000.0
        self.authorities: list[str] = []
        self.scopes: list[str] = []

    def module(self) -> types.ModuleType:
        fake = self

        class DefaultAzureCredential:
            def __init__(self, *, authority: str) -> None:
                fake.authorities.append(authority)

            def get_token(self, scope: str) -> FakeAccessToken:
                fake.scopes.append(scope)
                if fake.fail is not None:
                    raise fake.fail
                return FakeAccessToken(
                    f"identity-token-{len(fake.scopes)}", int(fake.now) + fake.lifetime
                )

        module = types.ModuleType("azure.identity")
        module.DefaultAzureCredential = DefaultAzureCredential  # type: ignore[attr-defined]
        return module


@pytest.fixture
def identity(monkeypatch: pytest.MonkeyPatch) -> FakeIdentity:
    fake = FakeIdentity()
    monkeypatch.setitem(sys.modules, "azure.identity", fake.module())
    return fake


async def test_identity_token_uses_cloud_and_caches(identity: FakeIdentity) -> None:
    cloud = CLOUDS["AzureUSGovernment"]
    provider = IdentityToken(cloud, clock=lambda: identity.now)
    first = await provider.token()
    again = await asyncio.gather(*(provider.token() for _ in range(5)))
    assert first.reveal() == "identity-token-1"
    assert all(t.reveal() == "identity-token-1" for t in again)
    assert identity.authorities == ["login.microsoftonline.us"]
    assert identity.scopes == [cloud.scope]
    identity.now += 3600 - 301  # still more than 5 minutes left
    assert (await provider.token()).reveal() == "identity-token-1"
    identity.now += 2  # now inside the 5-minute margin: refresh
    assert (await provider.token()).reveal() == "identity-token-2"
    assert identity.authorities == ["login.microsoftonline.us"]  # credential reused


async def test_identity_failure_is_auth_error_with_advice(identity: FakeIdentity) -> None:
    provider = IdentityToken(CLOUDS["AzureCloud"], clock=lambda: identity.now)
    leaked = (await provider.token()).reveal()
    identity.now += 3600  # force a refresh, which fails
    identity.fail = RuntimeError(f"DefaultAzureCredential failed\n  Attempted: cli {leaked}")
    with pytest.raises(AuthError) as info:
        await provider.token()
    text = str(info.value)
    assert info.value.exit_code == ExitCode.AUTH
    assert "az login" in text and TOKEN_ENV in text and "DefaultAzureCredential failed" in text
    assert leaked not in text and leaked not in repr(info.value)


async def test_missing_azure_identity_is_auth_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # import now raises ImportError
    with pytest.raises(AuthError, match="az login"):
        await IdentityToken(CLOUDS["AzureCloud"]).token()


def test_identity_token_repr_has_no_secret(identity: FakeIdentity) -> None:
    provider = IdentityToken(CLOUDS["AzureCloud"])
    asyncio.run(provider.token())
    assert "identity-token" not in repr(provider)


# ---- a blank endpoint is an error naming where it came from (never the public cloud)

BLANK_RECIPE = """version = 1
cloud = "AzureCloud"
fix = "reallocate"

[[target]]
subscription = "11111111-2222-3333-4444-555555555555"
resource_group = "rg"
vm = "vm1"
"""


def test_endpoint_override_order_and_blank_sources() -> None:
    from fipswizard.azure.clouds import endpoint_override

    assert endpoint_override(None, None, None) is None
    assert endpoint_override("https://a", "https://b", "https://c") == "https://a"
    assert endpoint_override(None, "https://b", "https://c") == "https://b"
    assert endpoint_override(None, None, "https://c") == "https://c"
    for args, name in (
        (("", "https://b", None), "--arm-endpoint"),
        ((None, "   ", "https://c"), "FIPSWIZARD_ARM_ENDPOINT"),
        ((None, None, "\t"), "custom_cloud.arm_endpoint in r.toml"),
    ):
        with pytest.raises(BadInput, match=name.replace(".", r"\.")):
            endpoint_override(*args, recipe_file="r.toml")
    with pytest.raises(BadInput, match="must be an https"):
        resolve_cloud("AzureCloud", arm_endpoint="  ")  # blank is never "no override"


@pytest.mark.parametrize(
    ("argv", "env", "named"),
    [
        (["--arm-endpoint", ""], {}, "--arm-endpoint"),
        (["--arm-endpoint", "  "], {}, "--arm-endpoint"),
        ([], {"FIPSWIZARD_ARM_ENDPOINT": "   "}, "FIPSWIZARD_ARM_ENDPOINT"),
    ],
)
def test_blank_endpoint_through_the_cli_exits_2(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    env: dict[str, str],
    named: str,
) -> None:
    from fipswizard.headless.cli import main

    monkeypatch.delenv("FIPSWIZARD_ARM_ENDPOINT", raising=False)
    monkeypatch.setenv("FIPSWIZARD_ACCESS_TOKEN", "not-used-token")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    recipe = tmp_path / "r.toml"
    recipe.write_text(BLANK_RECIPE, encoding="utf-8")
    code = main([*argv, "plan", str(recipe)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert named in err and "blank" in err and "Traceback" not in err
