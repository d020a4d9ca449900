"""Start-up and client costs (issue 9 item 4): one SSL context per process and CA bundle,
none with a CA store for loopback http://; the offline plan needs no event loop."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from fipswizard.azure import arm
from fipswizard.azure.arm import ArmClient, ssl_context
from fipswizard.azure.clouds import CLOUDS
from fipswizard.azure.credentials import StaticToken
from fipswizard.secrets import Secret


def _client(endpoint: str) -> ArmClient:
    cloud = CLOUDS["AzureCloud"]
    if endpoint != cloud.arm_endpoint:
        from dataclasses import replace

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
