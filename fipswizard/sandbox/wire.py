"""Request/response values passed between the sandbox front ends and its ARM handlers."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_BASE = "https://management.azure.com"
# A Resource Graph query is a POST that only reads: Microsoft's REST reference ("Resources -
# Resources", Microsoft.ResourceGraph 2022-10-01: "Queries the resources managed by Azure
# Resource Manager") and the Resource Graph overview ("Permissions in Azure Resource Graph": at
# least read access to the resources; the RBAC action is Microsoft.ResourceGraph/resources/read).
READ_ONLY_POSTS = ("/providers/microsoft.resourcegraph/resources",)


class ConnectionDropped(Exception):
    """The sandbox decided to close the connection without answering.

    `after_apply` tells whether the request changed state first (the client cannot know).
    """

    def __init__(self, after_apply: bool) -> None:
        super().__init__(
            "sandbox dropped the connection "
            + ("after" if after_apply else "before")
            + " applying the request"
        )
        self.after_apply = after_apply


class ArmError(Exception):
    """An ARM error answer: `{"error": {"code", "message"}}` with an HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return json_response(self.status, error_body(self.code, self.message), self.headers)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


@dataclass
class Request:
    method: str
    path: str  # decoded, without trailing slash
    raw_query: str
    query: dict[str, str]  # keys lower-cased
    headers: dict[str, str]  # keys lower-cased
    body: bytes
    base_url: str  # scheme://host[:port] used to build operation URLs
    now: float = 0.0

    @classmethod
    def parse(cls, method: str, url: str, headers: Mapping[str, str], body: bytes) -> Request:
        lower = {k.lower(): v for k, v in headers.items()}
        parts = urlsplit(url)
        if parts.scheme and parts.netloc:
            base = f"{parts.scheme}://{parts.netloc}"
        elif "host" in lower:
            base = f"http://{lower['host']}"
        else:
            base = DEFAULT_BASE
        path = unquote(parts.path).rstrip("/") or "/"
        query = {k.lower(): v for k, v in parse_qsl(parts.query, keep_blank_values=True)}
        return cls(method.upper(), path, parts.query, query, lower, body, base)

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]

    @property
    def is_write(self) -> bool:
        if self.method == "POST" and self.path.lower() in READ_ONLY_POSTS:
            return False  # a query (see READ_ONLY_POSTS)
        return self.method not in ("GET", "HEAD")

    def json(self) -> Any:
        """The body as JSON; an empty body is `{}`; bad JSON is ARM's InvalidRequestContent."""
        if not self.body.strip():
            return {}
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise ArmError(
                400,
                "InvalidRequestContent",
                f"The request content was invalid and could not be deserialized: {exc}.",
            ) from None

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise ArmError(
                400, "InvalidRequestContent", "The request content must be a JSON object."
            )
        return data


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


def json_response(status: int, obj: Any, headers: Mapping[str, str] | None = None) -> Response:
    out = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    return Response(status, out, json.dumps(obj).encode())


def retry_after(seconds: float) -> str:
    """Retry-After as ARM sends it: whole seconds, at least 1."""
    return str(max(1, math.ceil(seconds - 1e-9)))
