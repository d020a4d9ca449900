"""Azure clouds: the ARM endpoint, Entra authority and token scope each one uses.

Values are from azure-mgmt-core `get_arm_endpoints` and azure-identity `AzureAuthorityHosts`
(see reference/azure-platform.md section 7). Air-gapped clouds are reached with "custom".
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from fipswizard.errors import BadInput


@dataclass(frozen=True)
class Cloud:
    name: str  # "AzureCloud" | "AzureUSGovernment" | "custom"
    arm_endpoint: str  # no trailing slash
    authority: str  # Entra authority host
    scope: str  # token scope for ARM
    ca_bundle: str | None = None  # extra trust anchors for TLS (a PEM file)


CLOUDS: dict[str, Cloud] = {
    "AzureCloud": Cloud(
        name="AzureCloud",
        arm_endpoint="https://management.azure.com",
        authority="login.microsoftonline.com",
        scope="https://management.azure.com/.default",
    ),
    "AzureUSGovernment": Cloud(
        name="AzureUSGovernment",
        arm_endpoint="https://management.usgovcloudapi.net",
        authority="login.microsoftonline.us",
        scope="https://management.core.usgovcloudapi.net/.default",
    ),
}
CUSTOM = "custom"
DEFAULT_PORTS = {"https": 443, "http": 80}
ENDPOINT_FLAG = "--arm-endpoint"
ENDPOINT_ENV = "FIPSWIZARD_ARM_ENDPOINT"


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (hosts that never leave this machine)."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def same_origin(url: str, base: str) -> bool:
    """Same scheme, host and port: the one test for "may the bearer token go there?".

    A port equal to the scheme's default is the same as no port (https://h:443 is
    https://h), and loopback names count as one host (the sandbox).
    """

    def origin(text: str) -> tuple[str, str, int | None]:
        parts = urlsplit(text.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port
        if port == DEFAULT_PORTS.get(scheme):
            port = None
        return (scheme, "loopback" if is_loopback(host) else host, port)

    try:
        return origin(url) == origin(base)
    except ValueError:  # a malformed port
        return False


def check_endpoint(url: str, what: str = "ARM endpoint") -> str:
    """Validate an endpoint URL and return it without a trailing slash.

    https:// always; plain http:// only for loopback hosts (the local sandbox), because a
    bearer token sent in clear text to any other host could be read on the way.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError on a malformed port
    except ValueError as exc:
        raise BadInput(f"{what} {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadInput(
            f"{what} {url!r} must be an https:// URL such as https://management.azure.com"
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise BadInput(f"{what} {url!r} must not contain credentials, a query or a fragment")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise BadInput(
            f"{what} {url!r} uses plain http://, which is allowed only for loopback hosts "
            "(127.0.0.1, ::1, localhost; e.g. the local sandbox); use https://"
        )
    return text.rstrip("/")


def endpoint_override(
    flag: str | None, env: str | None, recipe: str | None, recipe_file: str = "the recipe"
) -> str | None:
    """The ARM endpoint override: the flag, else the environment, else the recipe.

    A source that is set but blank is an error naming it: silently falling through to the
    next source (or to the public cloud) would send the run somewhere the operator did not
    mean, e.g. an air-gapped operator's `FIPSWIZARD_ARM_ENDPOINT="$ARM"` with $ARM unset.
    """
    for value, name in (
        (flag, ENDPOINT_FLAG),
        (env, f"environment variable {ENDPOINT_ENV}"),
        (recipe, f"custom_cloud.arm_endpoint in {recipe_file}"),
    ):
        if value is None:
            continue
        if not value.strip():
            raise BadInput(
                f"{name} is set but blank ({value!r}); give an https:// URL such as "
                "https://management.azure.com, or leave it unset to use the cloud's own endpoint"
            )
        return value
    return None


def _check_authority(authority: str) -> str:
    text = authority.strip()
    if text.lower().startswith("http://"):
        raise BadInput(f"authority {authority!r} must use https:// (or be a bare host name)")
    if text.lower().startswith("https://"):
        text = text[len("https://") :]
    text = text.rstrip("/")
    if not text or any(c.isspace() for c in text):
        raise BadInput(
            f"authority {authority!r} must be a host name such as login.microsoftonline.com"
        )
    return text


def _check_ca_bundle(path: str) -> str:
    full = os.path.expanduser(path.strip())
    if not os.path.isfile(full):
        raise BadInput(f"CA bundle {path!r} does not exist or is not a file (expected a PEM file)")
    return full


def resolve_cloud(
    name: str,
    *,
    arm_endpoint: str | None = None,
    authority: str | None = None,
    scope: str | None = None,
    ca_bundle: str | None = None,
) -> Cloud:
    """The Cloud for `name` ("AzureCloud", "AzureUSGovernment" or "custom"), with overrides.

    `arm_endpoint` replaces the endpoint of any cloud (e.g. the sandbox on 127.0.0.1);
    "custom" needs `arm_endpoint` and `authority`, and its scope defaults to
    `<arm_endpoint>/.default`.
    """
    known = {key.lower(): cloud for key, cloud in CLOUDS.items()}
    key = name.strip().lower()
    if key == CUSTOM:
        if not (arm_endpoint and arm_endpoint.strip() and authority and authority.strip()):
            missing = [
                label
                for label, value in (
                    ("arm_endpoint (--arm-endpoint or FIPSWIZARD_ARM_ENDPOINT)", arm_endpoint),
                    ("authority (the Entra login host)", authority),
                )
                if not (value and value.strip())
            ]
            raise BadInput(
                "cloud 'custom' needs an ARM endpoint and an authority; "
                f"missing: {', '.join(missing)}"
            )
        endpoint = check_endpoint(arm_endpoint)
        cloud = Cloud(CUSTOM, endpoint, _check_authority(authority), f"{endpoint}/.default")
    elif key in known:
        cloud = known[key]
        if arm_endpoint is not None:  # blank is refused by check_endpoint, never ignored
            cloud = replace(cloud, arm_endpoint=check_endpoint(arm_endpoint))
        if authority is not None and authority.strip():
            cloud = replace(cloud, authority=_check_authority(authority))
    else:
        choices = ", ".join([*CLOUDS, CUSTOM])
        raise BadInput(f"unknown cloud {name!r}; choose one of: {choices}")
    if scope is not None and scope.strip():
        if any(c.isspace() for c in scope.strip()):
            raise BadInput(f"token scope {scope!r} must not contain spaces (one scope only)")
        cloud = replace(cloud, scope=scope.strip())
    if ca_bundle is not None and ca_bundle.strip():
        cloud = replace(cloud, ca_bundle=_check_ca_bundle(ca_bundle))
    return cloud
