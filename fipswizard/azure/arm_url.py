"""The one ARM URL builder: what the client sends and what every preview shows."""

from __future__ import annotations

from urllib.parse import urlencode


def arm_url(endpoint: str, path: str, api_version: str, **query: str) -> str:
    """`endpoint` + `path` + `?api-version=...&...`; `path` starts with "/" and has no query.
    `$` and `/` stay unescaped, as the ARM docs write `$expand=instanceView`."""
    if not path.startswith("/") or "?" in path or "#" in path:
        raise ValueError(f"ARM path must start with '/' and have no query: {path!r}")
    params = {"api-version": api_version, **query}
    return f"{endpoint}{path}?{urlencode(params, safe='$/')}"
