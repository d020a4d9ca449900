"""Subscriptions, resource groups, Microsoft.Features feature registration, provider register."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fipswizard.sandbox.model import COMPUTE, FIPS_FEATURE, Feature, Subscription
from fipswizard.sandbox.views import feature_json, provider_json
from fipswizard.sandbox.wire import ArmError, Request, Response, json_response

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure

TENANT_ID = "72f988bf-0000-4000-8000-00000000fa11"


def _sub_json(sub: Subscription) -> dict[str, object]:
    return {
        "id": f"/subscriptions/{sub.id}",
        "subscriptionId": sub.id,
        "tenantId": TENANT_ID,
        "displayName": sub.display_name,
        "state": "Enabled",
    }


def list_subscriptions(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    return json_response(200, {"value": [_sub_json(s) for s in az.estate.subscriptions.values()]})


def get_subscription(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    return json_response(200, _sub_json(az.subscription(p["sub"])))


def list_resource_groups(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    sub = az.subscription(p["sub"])
    locations = {vm.resource_group.lower(): vm.location for vm in az.estate.vms.values()}
    value = [
        {
            "id": f"/subscriptions/{sub.id}/resourceGroups/{name}",
            "name": name,
            "type": "Microsoft.Resources/resourceGroups",
            "location": locations.get(key, "westus2"),
            "properties": {"provisioningState": "Succeeded"},
        }
        for key, name in sub.resource_groups.items()
    ]
    return json_response(200, {"value": value})


def _feature(az: SandboxAzure, p: dict[str, str]) -> tuple[Subscription, Feature]:
    sub = az.subscription(p["sub"])
    feature = sub.feature(f"{p['ns']}/{p['feature']}")
    if feature is None:
        raise ArmError(404, "FeatureNotFound", f"The feature '{p['feature']}' could not be found.")
    return sub, feature


def _lower(az: SandboxAzure) -> bool:
    return az.faults.feature_state_case == "lower"


def get_feature(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    sub, feature = _feature(az, p)
    return json_response(200, feature_json(sub, feature, lower=_lower(az)))


def list_features(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    sub = az.subscription(p["sub"])
    prefix = f"{p['ns']}/".lower() if "ns" in p else ""
    value = [
        feature_json(sub, f, lower=_lower(az))
        for key, f in sub.features.items()
        if key.startswith(prefix)
    ]
    return json_response(200, {"value": value})


def register_feature(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    sub, feature = _feature(az, p)
    if feature.state not in ("Registering", "Registered"):
        feature.state = "Registering"
        feature.generation += 1
        generation = feature.generation

        def registered(t: float) -> None:
            if feature.generation == generation:
                feature.state, feature.registered_at = "Registered", t

        az.scheduler.at(az.now() + az.registration_seconds, registered)
    return json_response(200, feature_json(sub, feature, lower=_lower(az)))


def unregister_feature(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    sub, feature = _feature(az, p)
    if feature.state in ("Registering", "Registered", "Pending"):
        feature.state = "Unregistering"
        feature.registered_at = None
        feature.generation += 1
        generation = feature.generation

        def unregistered(t: float) -> None:
            if feature.generation == generation:
                feature.state = "NotRegistered"

        az.scheduler.at(az.now() + az.registration_seconds, unregistered)
    return json_response(200, feature_json(sub, feature, lower=_lower(az)))


def _provider_state(az: SandboxAzure, sub: Subscription, namespace: str) -> str:
    if namespace == COMPUTE and sub.provider_registered_at > az.now():
        return "Registering"
    return "Registered"


def get_provider(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    sub = az.subscription(p["sub"])
    namespace = _canonical_ns(p["ns"])
    return json_response(
        200,
        provider_json(sub, namespace, az.compute_versions(), _provider_state(az, sub, namespace)),
    )


def register_provider(az: SandboxAzure, req: Request, p: dict[str, str]) -> Response:
    """Providers_Register answers the Provider at once; with `provider_seconds` it stays
    Registering that long (registration is asynchronous in ARM), and only when it ends does
    the feature reach Compute (`provider_registered_at` is when the last register completes)."""
    sub = az.subscription(p["sub"])
    namespace = _canonical_ns(p["ns"])
    if namespace == COMPUTE:
        sub.provider_registered_at = az.now() + az.faults.provider_seconds
    return json_response(
        200,
        provider_json(sub, namespace, az.compute_versions(), _provider_state(az, sub, namespace)),
    )


def _canonical_ns(namespace: str) -> str:
    return COMPUTE if namespace.lower() == COMPUTE.lower() else namespace


def fips_feature_block(az: SandboxAzure, sub: Subscription) -> str | None:
    """Why the subscription may not set the FIPS flag yet, or None when it may.

    A subscription without the feature (it was retired in the newest doc revision) may.
    """
    feature = sub.feature(FIPS_FEATURE)
    if feature is None:
        return None
    if feature.state != "Registered" or feature.registered_at is None:
        return (
            f"The subscription '{sub.id}' is not registered for the feature "
            f"'{FIPS_FEATURE}' (state: {feature.state}), which is required to set "
            "'properties.additionalCapabilities.enableFips1403Encryption'. Register the "
            "feature, wait until its state is 'Registered', then re-register the resource "
            f"provider '{COMPUTE}'."
        )
    if sub.provider_registered_at > az.now():
        return (
            f"The resource provider '{COMPUTE}' is still registering for subscription "
            f"'{sub.id}'; wait until its registrationState is 'Registered' "
            f"(GET /subscriptions/{sub.id}/providers/{COMPUTE})."
        )
    if sub.provider_registered_at < feature.registered_at:
        return (
            f"The feature '{FIPS_FEATURE}' is registered for subscription '{sub.id}' but "
            f"the change has not propagated to the resource provider yet: re-register "
            f"'{COMPUTE}' (POST /subscriptions/{sub.id}/providers/{COMPUTE}/register)."
        )
    return None
