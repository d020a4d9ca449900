"""A small HTTP/1.1 server on asyncio streams that serves a `SandboxAzure` on loopback.

Keep-alive, Content-Length bodies (no chunked requests), `Expect: 100-continue`. A fault
"drop" closes the socket without a response, as a broken connection would.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from http import HTTPStatus

from fipswizard.sandbox.core import SandboxAzure
from fipswizard.sandbox.wire import ConnectionDropped

MAX_HEADER_LINES = 200
MAX_BODY = 16 * 1024 * 1024


class _BadRequest(Exception):
    pass


class SandboxServer:
    def __init__(self, sandbox: SandboxAzure) -> None:
        self.sandbox = sandbox
        self.base_url = ""
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._server = await asyncio.start_server(self._serve, host, port)
        bound = self._server.sockets[0].getsockname()
        self.base_url = f"http://{bound[0]}:{bound[1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while await self._one_request(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Serve one request; False when the connection should end."""
        line = await reader.readline()
        if not line.strip():
            return False
        try:
            method, target, version = line.decode("latin-1").split()
            headers = await _read_headers(reader)
            length = int(headers.get("content-length", "0") or 0)
            if "chunked" in headers.get("transfer-encoding", "").lower():
                raise _BadRequest("chunked request bodies are not supported")
            if not 0 <= length <= MAX_BODY:
                raise _BadRequest("bad Content-Length")
        except (ValueError, _BadRequest) as exc:
            await _write(writer, 400, {"Content-Type": "text/plain"}, str(exc).encode(), False)
            return False
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await reader.readexactly(length) if length else b""
        keep_alive = (
            version.upper() == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        )
        url = target if "://" in target else f"{self.base_url}{target}"
        try:
            status, out_headers, out_body = await self.sandbox.handle(method, url, headers, body)
        except ConnectionDropped:
            transport = writer.transport
            transport.abort()  # no FIN handshake niceties: like a reset connection
            return False
        await _write(writer, status, out_headers, out_body, keep_alive)
        return keep_alive


async def _read_headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = (await reader.readline()).decode("latin-1")
        if line in ("\r\n", "\n", ""):
            return headers
        name, sep, value = line.partition(":")
        if not sep:
            raise _BadRequest(f"malformed header line {line.strip()!r}")
        headers[name.strip().lower()] = value.strip()
    raise _BadRequest("too many header lines")


async def _write(
    writer: asyncio.StreamWriter,
    status: int,
    headers: dict[str, str],
    body: bytes,
    keep_alive: bool,
) -> None:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
    lines.append(f"Content-Length: {len(body)}")
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


def start_in_thread(
    sandbox: SandboxAzure, port: int = 0, host: str = "127.0.0.1"
) -> tuple[str, Callable[[], None]]:
    """Serve `sandbox` from a background thread (for sync callers); returns (url, stop)."""
    loop = asyncio.new_event_loop()
    server = SandboxServer(sandbox)
    started = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start(host, port))
        except BaseException as exc:  # report bind errors to the caller
            failure.append(exc)
            loop.close()
            started.set()
            return
        started.set()
        loop.run_forever()
        loop.run_until_complete(server.stop())
        loop.close()

    thread = threading.Thread(target=run, name="fipswizard-sandbox", daemon=True)
    thread.start()
    started.wait()
    if failure:
        raise failure[0]

    def stop() -> None:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    return server.base_url, stop
