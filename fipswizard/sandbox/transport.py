"""An httpx transport that answers from a `SandboxAzure` in-process (fast tests)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

from fipswizard.sandbox.wire import ConnectionDropped

if TYPE_CHECKING:
    from fipswizard.sandbox.core import SandboxAzure


class SandboxTransport(httpx.AsyncBaseTransport):
    """Use as `httpx.AsyncClient(transport=sandbox.transport(), base_url=...)`.

    A dropped connection surfaces as `httpx.RemoteProtocolError`, as from a real server
    that closed the socket without answering.
    """

    def __init__(self, sandbox: SandboxAzure) -> None:
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        try:
            status, headers, content = await self.sandbox.handle(
                request.method, str(request.url), dict(request.headers), body
            )
        except ConnectionDropped:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        return httpx.Response(status, headers=headers, content=content, request=request)
