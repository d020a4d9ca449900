"""The request log served at GET /_sandbox/requests.

Only the request line and the status are kept: never headers (Authorization) and never
bodies (protectedSettings, Run Command parameters).
"""

from __future__ import annotations

import threading
from typing import Any


class RequestLog:
    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []
        self._seq = 0
        self._lock = threading.Lock()

    def add(
        self,
        t: float,
        method: str,
        path: str,
        query: str,
        status: int,
        write: bool,
        dropped: str | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self._seq += 1
            entry = {
                "seq": self._seq,
                "t": round(t, 6),
                "method": method,
                "path": path,
                "query": query,
                "status": status,
                "write": write,
            }
            if dropped:
                entry["dropped"] = dropped  # "before" or "after" the change was applied
            self._entries.append(entry)
            return entry

    def entries(self, since: int = 0) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries if e["seq"] > since]

    def writes(self) -> list[dict[str, Any]]:
        return [e for e in self.entries() if e["write"]]

    def clear(self) -> int:
        with self._lock:
            count = len(self._entries)
            self._entries.clear()
            return count
