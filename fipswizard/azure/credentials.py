"""Bearer tokens for ARM: a pre-obtained token, or azure-identity's DefaultAzureCredential.

azure.identity is imported only when a token is actually needed from it, so CLI paths that
never talk to Azure (and runs with FIPSWIZARD_ACCESS_TOKEN) start fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, Protocol

from fipswizard.azure.clouds import Cloud
from fipswizard.errors import AuthError
from fipswizard.secrets import Secret, redact

TOKEN_ENV = "FIPSWIZARD_ACCESS_TOKEN"
REFRESH_MARGIN = 300.0  # renew a cached token this many seconds before it expires


class TokenProvider(Protocol):
    async def token(self) -> Secret: ...


class StaticToken:
    """A bearer token obtained elsewhere (e.g. `az account get-access-token`)."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    async def token(self) -> Secret:
        if not self._token:
            raise AuthError(f"the access token is empty; set {TOKEN_ENV} or run `az login`")
        return self._token

    def __repr__(self) -> str:
        return "StaticToken(***)"


class IdentityToken:
    """DefaultAzureCredential for the cloud's authority; the token is cached until near expiry."""

    def __init__(self, cloud: Cloud, *, clock: Callable[[], float] = time.time) -> None:
        self._cloud = cloud
        self._clock = clock
        self._credential: Any = None  # created on first use, in a worker thread
        self._cached: tuple[Secret, float] | None = None
        self._lock = asyncio.Lock()  # one refresh at a time; other requests wait for it

    async def token(self) -> Secret:
        async with self._lock:
            if self._cached and self._clock() < self._cached[1] - REFRESH_MARGIN:
                return self._cached[0]
            try:
                value, expires_on = await asyncio.to_thread(self._fetch)
            except Exception as exc:  # any azure.identity failure, including a missing package
                raise AuthError(self._explain(exc)) from None
            self._cached = (Secret(value, "access token"), float(expires_on))
            return self._cached[0]

    def _fetch(self) -> tuple[str, int]:
        from azure.identity import DefaultAzureCredential  # lazy: slow import

        if self._credential is None:
            self._credential = DefaultAzureCredential(authority=self._cloud.authority)
        access = self._credential.get_token(self._cloud.scope)
        return str(access.token), int(access.expires_on)

    def _explain(self, exc: BaseException) -> str:
        cloud = self._cloud
        detail = " ".join(str(exc).split())  # azure.identity messages span many lines
        if len(detail) > 600:
            detail = detail[:600] + "..."
        hint = "" if cloud.name in ("AzureCloud", "custom") else f"`az cloud set -n {cloud.name}`, "
        text = (
            f"could not get an Azure token for {cloud.name} (authority {cloud.authority}, "
            f"scope {cloud.scope}): {type(exc).__name__}: {detail or 'no details'}\n"
            f"  what to do: run {hint}`az login`, or set {TOKEN_ENV} to a bearer token "
            f"for {cloud.scope} (e.g. from `az account get-access-token`)"
        )
        return redact(text)

    def __repr__(self) -> str:
        return f"IdentityToken({self._cloud.name})"


def credential_for(cloud: Cloud, token: str = "") -> TokenProvider:
    """A pre-obtained `token` (the value of FIPSWIZARD_ACCESS_TOKEN, which fipswizard.session
    reads) when given: no azure.identity import; else DefaultAzureCredential."""
    raw = token.strip()
    if raw.lower().startswith("bearer "):  # tolerate a pasted Authorization header value
        raw = raw[len("bearer ") :].strip()
    if raw:
        return StaticToken(Secret(raw, TOKEN_ENV))
    return IdentityToken(cloud)
