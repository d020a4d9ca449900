"""ARM error types, parsed from ARM's error bodies, each with advice for the operator.

`str(err)` is "ARM <status> <code>: <message verbatim>\\n  what to do: <advice>". Every
rendered message passes through `redact`, so a token can never leak through an error even if
a server echoes it back.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any, Self

from fipswizard.errors import AuthError, ExitCode, FipsWizardError
from fipswizard.secrets import redact

if TYPE_CHECKING:
    import httpx  # annotations only: the offline plan imports these types and sends nothing

_REGION_TEXT = re.compile(r"(isn't|is not) supported in this region", re.IGNORECASE)
_AUTH_CODES = {
    "AuthorizationFailed",
    "LinkedAuthorizationFailed",
    "AuthenticationFailed",
    "InvalidAuthenticationToken",
    "ExpiredAuthenticationToken",
}
_AUTH_ADVICE = (
    "check the identity has Virtual Machine Contributor on the VM and permission "
    "Microsoft.Features/register on the subscription; re-run `az login` or refresh "
    "FIPSWIZARD_ACCESS_TOKEN"
)
_BUSY_ADVICE = "another operation is running on this resource; wait for it to finish and re-run"
_ADVICE: dict[tuple[int | None, str | None], str] = {
    (401, None): _AUTH_ADVICE,
    (403, None): _AUTH_ADVICE,
    (None, "AuthorizationFailed"): _AUTH_ADVICE,
    (404, None): "check the subscription, resource group and VM names, and the cloud (--cloud)",
    (409, None): _BUSY_ADVICE,
    (None, "Conflict"): _BUSY_ADVICE,
    (None, "OperationNotAllowed"): _BUSY_ADVICE,
    (412, None): "the VM changed since it was read; re-run (the tool reads it again)",
    (None, "SubscriptionNotFound"): "check the subscription id, that the identity can see it "
    "(`az account list`) and the cloud (--cloud)",
    (429, None): "ARM kept throttling after retries; lower the concurrency and re-run",
}
REGION_ADVICE = (
    "the FIPS 140-3 platform change is not in this region yet: move the VM to a supported "
    "region or wait for the rollout"
)
CONNECTION_LOST_ADVICE = (
    "the action may or may not have run; check the VM and re-run (every step checks first)"
)
TIMED_OUT_ADVICE = (
    "the operation is still running in Azure; check the resource's activity log and re-run "
    "later (every step checks first)"
)


def advice_for(status: int, code: str, request_id: str | None) -> str:
    for key in ((status, code), (None, code), (status, None)):
        if key in _ADVICE:
            return _ADVICE[key]
    ref = f"x-ms-request-id {request_id}" if request_id else "the x-ms-correlation-request-id"
    return f"if this persists, contact Azure support and quote {ref}"


class ArmError(FipsWizardError):
    """ARM refused a request or an operation failed; `advice` says what to do next."""

    region: str | None = None

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        request_id: str | None = None,
        advice: str | None = None,
        details: list[Any] | None = None,
        label: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.request_id = request_id
        self.details: list[Any] = details or []
        self.advice = advice if advice is not None else advice_for(status, code, request_id)
        # label replaces the status number where there was no HTTP error (e.g. "operation Failed")
        self.label = label or (str(status) if status else "(no response)")
        super().__init__(self.render())

    def render(self) -> str:
        return redact(f"{self.headline()}\n  what to do: {self.advice}")

    def headline(self) -> str:
        return redact(f"ARM {self.label} {self.code}: {self.message}")

    def with_region(self, region: str) -> Self:
        """Record the region the request was about (shown by RegionNotSupported)."""
        self.region = region
        self.args = (self.render(),)
        return self

    def __repr__(self) -> str:
        return redact(f"{type(self).__name__}(status={self.status}, code={self.code!r})")


class RegionNotSupported(ArmError):
    """400 BadRequest "... isn't supported in this region": the platform change is not there."""

    def render(self) -> str:
        if not self.region:
            return super().render()
        return redact(
            f"region not supported: {self.region}\n"
            f"  ARM {self.label} {self.code}: {self.message}\n  what to do: {self.advice}"
        )


class PreconditionFailed(ArmError):
    """412: the If-Match ETag no longer matches."""


class NotFound(ArmError):
    """404: subscription, resource group, resource or operation not found."""


class Unparseable(ArmError):
    """ARM's answer could not be read (not JSON, or a status without `status`)."""


class InvalidOperationStatus(Unparseable):
    """An operation status answer without a `status` field."""


class UnreadableResponse(Unparseable):
    """A 2xx answer whose body is not JSON (often a proxy's or captive portal's page)."""


class Throttled(ArmError):
    """ARM asked for a wait longer than the throttle budget has left."""


class ArmAuthError(ArmError, AuthError):
    """401/403: the token is missing, expired or lacks a role."""

    exit_code = ExitCode.AUTH


def _error_class(status: int | None, code: str, message: str) -> type[ArmError]:
    if status in (401, 403) or code in _AUTH_CODES:
        return ArmAuthError
    if status == 404:
        return NotFound
    if status == 412 or code == "PreconditionFailed":
        return PreconditionFailed
    if status in (400, None) and _REGION_TEXT.search(message):
        return RegionNotSupported
    return ArmError


def _parse_error(body: Any) -> dict[str, Any]:
    """The `error` object of an ARM error body (also top-level code/message)."""
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            return inner
        if isinstance(inner, str):
            return {"code": body.get("code"), "message": inner}
        if "code" in body or "message" in body:
            return body
    return {}


def make_error(
    status: int,
    error: dict[str, Any],
    *,
    default_code: str,
    request_id: str | None,
    label: str | None = None,
) -> ArmError:
    code = str(error.get("code") or default_code)
    message = str(error.get("message") or "")
    target = error.get("target")
    details = error.get("details")
    cls = _error_class(None if label else status, code, message)
    advice = REGION_ADVICE if cls is RegionNotSupported else None
    return cls(
        status,
        code,
        message,
        target=str(target) if target else None,
        request_id=request_id,
        advice=advice,
        details=details if isinstance(details, list) else None,
        label=label,
    )


def error_from_response(response: httpx.Response) -> ArmError:
    """Map an HTTP error response (JSON error body, bare code/message, or not JSON at all)."""
    import httpx

    text = response.text
    try:
        error = _parse_error(json.loads(text)) if text.strip() else {}
    except ValueError:
        error = {}
    if not error.get("message"):
        snippet = " ".join(text.split())[:500]
        error = {**error, "message": snippet or f"HTTP {response.status_code} with no body"}
    reason = httpx.codes.get_reason_phrase(response.status_code).replace(" ", "")
    return make_error(
        response.status_code,
        error,
        default_code=reason or f"Http{response.status_code}",
        request_id=response.headers.get("x-ms-request-id"),
    )


def operation_error(
    status_text: str, body: Any, http_status: int, request_id: str | None
) -> ArmError:
    """A long-running operation that ended Failed or Canceled."""
    error = _parse_error(body)
    if not error and isinstance(body, dict) and isinstance(body.get("properties"), dict):
        error = _parse_error(body["properties"])
    if not error.get("message"):
        error = {**error, "message": f"the operation ended {status_text} without an error message"}
    return make_error(
        http_status,
        error,
        default_code=f"Operation{status_text}",
        request_id=request_id,
        label=f"operation {status_text}",
    )


def connection_lost(method: str, url: str, exc: Exception) -> ArmError:
    return ArmError(
        0,
        "ConnectionLost",
        f"{method} {url}: the connection dropped before a response ({type(exc).__name__})",
        advice=CONNECTION_LOST_ADVICE,
    )


def connection_failed(method: str, url: str, exc: Exception, attempts: int) -> ArmError:
    return ArmError(
        0,
        "ConnectionFailed",
        f"{method} {url}: no response after {attempts} attempts ({type(exc).__name__}: {exc})",
        advice="check the network path to the ARM endpoint (proxy, DNS, firewall) and re-run",
    )


def timed_out(url: str, seconds: float, last_status: str) -> ArmError:
    return ArmError(
        0,
        "OperationTimedOut",
        f"gave up waiting after {seconds:.0f}s (last status {last_status}) for {url}",
        advice=TIMED_OUT_ADVICE,
        label="operation",
    )


def throttled_too_long(
    response: httpx.Response | None, asked: float, throttled_for: float, budget: float
) -> Throttled:
    """A Retry-After the budget cannot cover: stop now instead of sleeping it out.

    `response` is None when the wait comes from the throttle gate (another request of this
    run was told to wait).
    """
    parsed = error_from_response(response) if response is not None else None
    said = f" ARM said: {parsed.message}" if parsed else ""
    left = max(0.0, budget - throttled_for)
    return Throttled(
        parsed.status if parsed else 429,
        parsed.code if parsed else "TooManyRequests",
        f"ARM asked to wait {asked:.0f}s (Retry-After) before requests like this one are "
        f"processed; only {left:.0f}s of the {budget:.0f}s throttle budget are left, so the "
        f"request was stopped instead of waiting.{said}",
        request_id=parsed.request_id if parsed else None,
        advice=f"re-run in about {max(1, math.ceil(asked / 60))} min: the run resumes where it "
        "stopped (every step checks first); if ARM keeps throttling, lower the concurrency "
        "or look for other tools busy on this subscription",
    )


CA_BUNDLE_ADVICE = (
    "the server's certificate is not trusted here: if a TLS-inspecting proxy or a private "
    "cloud signs it, pass its CA with --ca-bundle PEM (or custom_cloud.ca_bundle in the "
    "recipe); otherwise check --arm-endpoint points at ARM"
)


def tls_failed(method: str, url: str, exc: Exception) -> ArmError:
    return ArmError(
        0,
        "TlsVerificationFailed",
        f"{method} {url}: TLS certificate verification failed ({exc}); not retried",
        advice=CA_BUNDLE_ADVICE,
    )


def redirected(method: str, url: str, response: httpx.Response) -> ArmError:
    where = response.headers.get("location") or "(no Location header)"
    return ArmError(
        response.status_code,
        "UnexpectedRedirect",
        f"{method} {url}: answered {response.status_code} redirecting to {where}; fipswizard "
        "never follows redirects (the bearer token goes to the ARM endpoint only)",
        request_id=response.headers.get("x-ms-request-id"),
        advice="ARM itself does not redirect: a proxy or captive portal may be answering, or "
        "the endpoint is wrong; check --arm-endpoint / the cloud and HTTPS_PROXY / NO_PROXY",
    )


def unreadable(method: str, url: str, response: httpx.Response) -> UnreadableResponse:
    kind = response.headers.get("content-type") or "no content-type"
    snippet = " ".join(response.text.split())[:200]
    then = (
        "nothing was written from it"
        if method == "GET"
        else "the request was sent and may have taken effect; nothing further was written"
    )
    return UnreadableResponse(
        response.status_code,
        "UnreadableResponse",
        f"{method} {url}: the {response.status_code} answer could not be parsed as JSON "
        f"({kind}: {snippet!r}); {then}",
        request_id=response.headers.get("x-ms-request-id"),
        advice="a proxy or captive portal may be answering instead of ARM: check the network "
        "path and --arm-endpoint, then re-run (every step checks first)",
    )
