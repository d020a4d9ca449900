"""`python -m fipswizard.sandbox serve [...]`: run the simulated Azure on loopback.

Prints the base URL as the first stdout line (and to --url-file), then serves until
SIGTERM or SIGINT. All state lives in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import tempfile
from pathlib import Path

from fipswizard.sandbox.core import SandboxAzure
from fipswizard.sandbox.estate import estate_from_spec
from fipswizard.sandbox.faults import Faults
from fipswizard.sandbox.server import SandboxServer
from fipswizard.sandbox.throttle import BucketSpec


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fipswizard.sandbox", description="Simulated Azure (ARM) for fipswizard."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the sandbox on 127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--estate", default="demo", help="demo | bench:N")
    serve.add_argument("--write-rate", type=float, default=10.0, help="write tokens per second")
    serve.add_argument("--write-burst", type=float, default=200.0)
    serve.add_argument("--read-rate", type=float, default=25.0)
    serve.add_argument("--read-burst", type=float, default=250.0)
    serve.add_argument("--fault-rate", type=float, default=0.0)
    serve.add_argument("--fault-status", type=int, default=503)
    serve.add_argument("--drop-rate", type=float, default=0.0)
    serve.add_argument("--drop-phase", default="random", choices=("random", "before", "after"))
    serve.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    serve.add_argument(
        "--op-seconds", type=float, default=2.0, help="duration of long-running operations"
    )
    serve.add_argument(
        "--registration-seconds",
        type=float,
        default=5.0,
        help="how long a feature stays Registering",
    )
    serve.add_argument("--seed", type=int, default=0)
    serve.add_argument("--url-file", type=Path, help="also write the base URL here")
    return parser


def _write_atomically(path: Path, text: str) -> None:
    # A reader polling for the file must never see it half written.
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=".sandbox-url-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


async def serve(args: argparse.Namespace) -> None:
    faults = Faults(
        fault_rate=args.fault_rate,
        fault_status=args.fault_status,
        drop_rate=args.drop_rate,
        drop_phase=args.drop_phase,
        latency=args.latency,
        seed=args.seed,
    )
    sandbox = SandboxAzure(
        estate_from_spec(args.estate),
        op_seconds=args.op_seconds,
        registration_seconds=args.registration_seconds,
        reads=BucketSpec(args.read_burst, args.read_rate),
        writes=BucketSpec(args.write_burst, args.write_rate),
        faults=faults,
        seed=args.seed,
    )
    server = SandboxServer(sandbox)
    url = await server.start("127.0.0.1", args.port)
    print(url, flush=True)
    if args.url_file:
        _write_atomically(args.url_file, url + "\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(
        f"sandbox: serving {args.estate} estate; SIGTERM or Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    await stop.wait()
    await server.stop()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(serve(args))
    except ValueError as exc:  # bad --estate or fault settings
        print(f"sandbox: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"sandbox: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
