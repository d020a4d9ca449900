"""What an ARM request returns: status, headers and the parsed JSON body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx


@dataclass
class ArmResponse:
    status: int
    headers: httpx.Headers
    body: Any  # parsed JSON, or None (no body or not JSON)

    @property
    def etag(self) -> str | None:
        """The ETag header, else the resource's `etag` property (for If-Match)."""
        tag = self.headers.get("etag")
        if tag:
            return str(tag)
        if isinstance(self.body, dict) and isinstance(self.body.get("etag"), str):
            return str(self.body["etag"])
        return None

    @property
    def request_id(self) -> str | None:
        value = self.headers.get("x-ms-request-id")
        return str(value) if value else None


def parse_body(response: httpx.Response) -> Any:
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        return None


def provisioning_state(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("properties"), dict):
        state = body["properties"].get("provisioningState")
        return state if isinstance(state, str) else None
    return None
