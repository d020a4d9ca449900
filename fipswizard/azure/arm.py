"""The ARM REST client: one HTTP connection pool, retries, throttle gates, long-running ops.

Every request carries a fresh bearer token from the TokenProvider (never logged), one
correlation id per run and a new client request id. Long-running operations are followed to
the end (Azure-AsyncOperation, else Location, else the resource's provisioningState).
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, Self
from urllib.parse import urljoin, urlsplit

import httpx

import fipswizard
from fipswizard.azure.arm_errors import (
    ArmAuthError,
    ArmError,
    NotFound,
    PreconditionFailed,
    RegionNotSupported,
    connection_failed,
    connection_lost,
    error_from_response,
    redirected,
    throttled_too_long,
    tls_failed,
    unreadable,
)
from fipswizard.azure.arm_lro import LroFollower, Progress
from fipswizard.azure.arm_response import ArmResponse, parse_body
from fipswizard.azure.arm_retry import (
    NOT_SENT,
    POLL_DEFAULT,
    POLL_FLOOR,
    RETRYABLE_STATUS,
    ThrottleGates,
    backoff,
    gate_key,
    retry_after,
)
from fipswizard.azure.arm_url import arm_url
from fipswizard.azure.clouds import Cloud, check_endpoint, is_loopback, same_origin
from fipswizard.azure.credentials import TokenProvider
from fipswizard.context import ARM_WRITES
from fipswizard.errors import BadInput

__all__ = [
    "ArmAuthError",
    "ArmClient",
    "ArmError",
    "ArmResponse",
    "NotFound",
    "PreconditionFailed",
    "RegionNotSupported",
]

# Requests in flight at once, and the connections they use. httpcore's pool scans every queued
# request against every connection on each request's start and end, so a queue in the pool
# costs CPU in proportion to its square; the client queues them itself (`_in_flight`).
CONNECTIONS = 100


class ArmClient:
    """Async ARM client; use `async with ArmClient(...) as arm:` or call `aclose()`.

    `max_attempts` bounds sends after 5xx and connection failures; a 429 spends no attempt
    (the request waits its turn at the throttle gate). Retry-After on 429 and 5xx is honoured
    in full; a request whose next wait would pass `max_throttle_wait` seconds since it began
    stops at once with the wait ARM asked for. TLS verification failures are never retried.
    Operations are polled at Retry-After (at least `poll_floor`), else every `poll_interval`.
    `stats` counts requests sent per method (retries and polls included) and the "retries"
    and "throttled" (429) answers.
    """

    def __init__(
        self,
        cloud: Cloud,
        credential: TokenProvider,
        *,
        correlation_id: str,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 60.0,
        max_attempts: int = 8,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        lro_timeout: float = 1800.0,
        max_throttle_wait: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        poll_interval: float = POLL_DEFAULT,
        poll_floor: float = POLL_FLOOR,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.cloud = cloud
        self.endpoint = check_endpoint(cloud.arm_endpoint)
        self.correlation_id = correlation_id
        self.stats: collections.Counter[str] = collections.Counter()
        self._credential = credential
        self._max_attempts = max_attempts
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._clock = clock
        self._lro_timeout = lro_timeout
        self._max_throttle_wait = max_throttle_wait
        self._rng = rng or random.Random()
        self._gates = ThrottleGates(clock, sleep, self._rng)
        self._lro = LroFollower(
            self._poll_get,
            sleep,
            clock,
            lro_timeout,
            self._trusted,
            poll_interval=poll_interval,
            poll_floor=poll_floor,
        )
        host = urlsplit(self.endpoint).hostname or ""
        self._in_flight = asyncio.Semaphore(CONNECTIONS)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            verify=ssl_context(cloud.ca_bundle, urlsplit(self.endpoint).scheme),
            http2=False,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS),
            trust_env=not is_loopback(host),  # a proxy from the environment can't reach loopback
            headers={
                "User-Agent": f"fipswizard/{fipswizard.__version__}",
                "Accept": "application/json",
                "x-ms-correlation-request-id": correlation_id,
            },
        )

    def url(self, path: str, api_version: str, **query: str) -> str:
        """The full request URL (also what previews show); `path` starts with "/"."""
        return arm_url(self.endpoint, path, api_version, **query)

    async def get(self, path: str, api_version: str, **query: str) -> ArmResponse:
        return await self._send("GET", self.url(path, api_version, **query), retry_safe=True)

    async def put(
        self,
        path: str,
        api_version: str,
        body: Any,
        *,
        if_match: str | None = None,
        progress: Progress | None = None,
    ) -> ArmResponse:
        """Create or update; waits for the operation and returns the resource as it ends up."""
        return await self._write("PUT", path, api_version, body, if_match, progress)

    async def patch(
        self,
        path: str,
        api_version: str,
        body: Any,
        *,
        if_match: str | None = None,
        progress: Progress | None = None,
    ) -> ArmResponse:
        return await self._write("PATCH", path, api_version, body, if_match, progress)

    async def post(
        self,
        path: str,
        api_version: str,
        body: Any = None,
        *,
        retry_safe: bool = False,
        progress: Progress | None = None,
    ) -> ArmResponse:
        """An action; waits for it when ARM answers 201/202 and returns the final body.

        Only `retry_safe` actions are sent again after a 5xx or a dropped connection.
        """
        url = self.url(path, api_version)
        first = await self._send("POST", url, body=body, retry_safe=retry_safe)
        return await self._lro.follow("POST", url, first, progress)

    async def delete(
        self, path: str, api_version: str, *, progress: Progress | None = None
    ) -> ArmResponse:
        url = self.url(path, api_version)
        first = await self._send("DELETE", url, retry_safe=True)
        return await self._lro.follow("DELETE", url, first, progress)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _write(
        self,
        method: str,
        path: str,
        api_version: str,
        body: Any,
        if_match: str | None,
        progress: Progress | None,
    ) -> ArmResponse:
        url = self.url(path, api_version)
        headers = {"If-Match": if_match} if if_match else {}
        try:
            first = await self._send(method, url, body=body, headers=headers, retry_safe=True)
            return await self._lro.follow(method, url, first, progress)
        except RegionNotSupported as err:
            if err.region is None and isinstance(body, dict) and body.get("location"):
                err.with_region(str(body["location"]))
            raise

    async def _send(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        retry_safe: bool,
    ) -> ArmResponse:
        """One logical request: gate, send, retry what is safe to retry, map errors."""
        key = gate_key(url, method)
        content = None if body is None else json.dumps(body).encode()
        started = self._clock()
        failures = throttled = 0
        while True:
            self._within_budget(None, self._gates.closed_for(key), started)
            await self._gates.wait(key)
            token = await self._credential.token()
            request_headers = {
                **(headers or {}),
                "Authorization": f"Bearer {token.reveal()}",
                "x-ms-client-request-id": str(uuid.uuid4()),
            }
            if content is not None:
                request_headers["Content-Type"] = "application/json"
            self.stats[method] += 1
            self._gates.sent(key)
            try:
                async with self._in_flight:
                    response = await self._http.request(
                        method, url, content=content, headers=request_headers
                    )
            except BaseException as exc:
                self._gates.answered(key, 0, None)
                if not isinstance(exc, httpx.RequestError):
                    raise
                if _tls_verification_failed(exc):  # retrying cannot make a certificate valid
                    raise tls_failed(method, url, exc) from None
                if not (retry_safe or isinstance(exc, NOT_SENT)):
                    raise connection_lost(method, url, exc) from exc
                failures += 1
                if failures >= self._max_attempts:
                    raise connection_failed(method, url, exc, failures) from exc
                await self._pause(backoff(failures, self._backoff_cap, self._rng))
                continue
            status = response.status_code
            self._gates.answered(key, status, response.headers)
            _note_write(method, url, response)
            if status == 429:  # not processed: always safe to send again, after the gate opens
                self.stats["throttled"] += 1
                throttled += 1
                wait = retry_after(response.headers)
                if wait is None:
                    wait = min(self._backoff_cap, 2.0 ** (throttled - 1))
                self._gates.hold(key, wait)  # the others on this subscription wait too
                self._within_budget(response, wait, started)
                self.stats["retries"] += 1
                continue
            if status in RETRYABLE_STATUS and retry_safe:
                failures += 1
                if failures < self._max_attempts:
                    wait = retry_after(response.headers)
                    if wait is None:
                        wait = backoff(failures, self._backoff_cap, self._rng)
                    self._within_budget(response, wait, started)
                    await self._pause(wait)
                    continue
            if 300 <= status < 400:  # never followed: the token must not go elsewhere
                raise redirected(method, url, response)
            if status >= 400:
                raise error_from_response(response)
            body = parse_body(response)
            if body is None and response.content.strip():
                raise unreadable(method, url, response)
            return ArmResponse(status, response.headers, body)

    def _within_budget(self, response: httpx.Response | None, wait: float, started: float) -> None:
        """Stop now when the wait ARM asked for would run past the throttle budget."""
        spent = self._clock() - started
        if wait > 0 and spent + wait > self._max_throttle_wait:
            raise throttled_too_long(response, wait, spent, self._max_throttle_wait)

    async def _poll_get(self, url: str) -> ArmResponse:
        return await self._send("GET", url, retry_safe=True)

    async def _pause(self, seconds: float) -> None:
        self.stats["retries"] += 1
        await self._sleep(seconds)

    def _trusted(self, url: str) -> str:
        """Refuse to send the bearer token to any host but the ARM endpoint."""
        full = urljoin(self.endpoint + "/", url)
        if not same_origin(full, self.endpoint):
            raise ArmError(
                0,
                "UntrustedPollUrl",
                f"ARM asked to follow {urlsplit(full).netloc!r}, which is not the ARM endpoint "
                f"{self.endpoint}; the bearer token is not sent anywhere else",
                advice="the operation may still be running; check the resource and re-run "
                "(every step checks first)",
            )
        return full


def _tls_verification_failed(exc: BaseException) -> bool:
    """Is an ssl.SSLCertVerificationError anywhere in the chain (httpx wraps httpcore's)?"""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return "CERTIFICATE_VERIFY_FAILED" in str(exc)


# One SSL context per process and CA bundle: building one loads the whole CA store (tens of
# milliseconds, and memory per client), and a fleet run makes many clients. Issue 9 item 4.
_CONTEXTS: dict[str | None, ssl.SSLContext] = {}
_PLAIN: list[ssl.SSLContext] = []


def ssl_context(ca_bundle: str | None, scheme: str = "https") -> ssl.SSLContext:
    """The process's shared context for `ca_bundle` (None: httpx's default store).

    For an `http://` endpoint (check_endpoint allows it only for loopback) no CA store is loaded:
    the client never speaks TLS there (no redirects, polls stay on the same origin), and the bare
    context still requires a certificate, so a stray TLS connection would fail closed."""
    if scheme == "http":
        if not _PLAIN:
            _PLAIN.append(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        return _PLAIN[0]
    cached = _CONTEXTS.get(ca_bundle)
    if cached is not None:
        return cached
    if not ca_bundle:
        context = httpx.create_ssl_context()  # certifi, or SSL_CERT_FILE/SSL_CERT_DIR as httpx does
    else:
        try:
            context = ssl.create_default_context(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise BadInput(f"CA bundle {ca_bundle!r} could not be loaded: {exc}") from None
    _CONTEXTS[ca_bundle] = context
    return context


def _note_write(method: str, url: str, response: httpx.Response) -> None:
    """Record an answered write for the journal; a 429 was not processed, so it is not one."""
    writes = ARM_WRITES.get()
    if writes is None or method in ("GET", "HEAD") or response.status_code == 429:
        return
    writes.append(
        {
            "method": method,
            "path": urlsplit(url).path,
            "status": response.status_code,
            "request_id": response.headers.get("x-ms-request-id", ""),
        }
    )
