"""Shared by the tests that run the engine against the sandbox in-process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import httpx

from fipswizard.context import Settings

# Polls that suit the sandbox's sub-second operations.
FAST = replace(Settings(), feature_poll=0.05, agent_poll=0.05, agent_wait=1.0, reboot_timeout=30.0)


class Recorder(httpx.AsyncBaseTransport):
    """Keeps every request body in test memory (to learn generated secrets, e.g. the
    VMAccess password, and prove they were really sent)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner, self.bodies = inner, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append((await request.aread()).decode())
        return await self.inner.handle_async_request(request)


class Killed(BaseException):
    """The process died (SIGKILL): no `except Exception` sees it, no journal line follows."""


class KillWhen(httpx.AsyncBaseTransport):
    """Forwards requests; once the sandbox has handled one that `when` picks, the process
    "dies" before fipswizard sees the answer (the worst moment: Azure has the request), and
    nothing more is sent."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, when: Callable[[httpx.Request], bool]
    ) -> None:
        self.inner, self.when, self.dead = inner, when, False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.dead:
            raise Killed
        await request.aread()
        response = await self.inner.handle_async_request(request)
        if self.when(request):
            self.dead = True
            raise Killed
        return response
