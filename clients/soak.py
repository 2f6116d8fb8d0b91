"""``iomodels soak`` (``make soak``): a bounded mixed load per model, then a leak check.

For each model: start a server on 127.0.0.1 (port 0), warm it up, wait until
it is idle and record the baseline (open file descriptors and RSS of the whole
process tree), run a mixed load of ``GET /``, ``POST /echo`` and
``GET /io?ms=5`` for ``--duration`` seconds over connections that come and go,
wait until idle again and compare. Verdict: descriptors back to the baseline
and RSS grown less than 5%.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from dataclasses import dataclass

from common.argtypes import add_names_argument, int_range, seconds
from common.process_tree import ProcessTree
from servers.launcher import ServerProcess
from servers.registry import model_names, runnable_model_names

REQUESTS = {
    "hello": b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n",
    "io": b"GET /io?ms=5 HTTP/1.1\r\nHost: soak\r\n\r\n",
}
RSS_GROWTH_MAX = 0.05


@dataclass
class Usage:
    fds: int
    rss: int
    processes: int


@dataclass
class Counts:
    requests: int = 0
    errors: int = 0


def usage(server: ServerProcess) -> Usage:
    """Open descriptors and RSS summed over the server's process tree."""
    now = ProcessTree(server.pid).usage(fds=True)
    return Usage(now.fds or 0, now.rss_bytes, now.processes)


def echo_request(rng: random.Random) -> tuple[bytes, bytes]:
    body = rng.randbytes(rng.choice((10, 1000, 30_000)))
    head = b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n" % len(body)
    return head + body, body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


async def client(port: int, until: float, counts: Counts, seed: int) -> None:
    """Connections of 1 to 50 keep-alive requests each, until ``until``."""
    rng = random.Random(seed)
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            counts.errors += 1
            await asyncio.sleep(0.05)
            continue
        try:
            for _ in range(rng.randint(1, 50)):
                kind = rng.choice(("hello", "hello", "echo", "io"))
                if kind == "echo":
                    raw, expected = echo_request(rng)
                else:
                    raw, expected = REQUESTS[kind], b""
                writer.write(raw)
                status, body = await read_response(reader)
                if status != 200 or (kind == "echo" and body != expected):
                    counts.errors += 1
                    break
                counts.requests += 1
                if time.monotonic() >= until:
                    break
        except (OSError, asyncio.IncompleteReadError, ValueError):
            counts.errors += 1
        finally:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


async def load(port: int, seconds: float, concurrency: int) -> Counts:
    counts = Counts()
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(port, until, counts, seed) for seed in range(concurrency)))
    return counts


def open_connections(port: int) -> int:
    """Connections the server has open, not counting the one asking."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /stats HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return int(json.loads(data.partition(b"\r\n\r\n")[2])["connections_open"]) - 1


def settle(server: ServerProcess, limit: float = 15.0) -> None:
    """Wait until the server holds no connection (and fork children are reaped)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and open_connections(server.port) > 0:
        time.sleep(0.2)
    time.sleep(1.0)


def soak(model: str, duration: float, warmup: float, concurrency: int) -> bool:
    with ServerProcess(model, args=["--keepalive-timeout", "2"]) as server:
        asyncio.run(load(server.port, warmup, concurrency))
        settle(server)
        before = usage(server)
        counts = asyncio.run(load(server.port, duration, concurrency))
        settle(server)
        after = usage(server)
        alive = server.proc is not None and server.proc.poll() is None
    growth = (after.rss - before.rss) / before.rss
    ok = alive and after.fds <= before.fds and growth < RSS_GROWTH_MAX and counts.errors == 0
    print(
        f"{model:<13} {'PASS' if ok else 'FAIL'}  {counts.requests:>8} requests  {counts.errors} errors  "
        f"fds {before.fds} -> {after.fds}  RSS {before.rss / 2**20:.1f} -> {after.rss / 2**20:.1f} MiB "
        f"({growth:+.1%})  processes {before.processes} -> {after.processes}",
        flush=True,
    )
    return ok


def configure(parser: argparse.ArgumentParser) -> None:
    """The ``iomodels soak`` flags."""
    add_names_argument(
        parser,
        "--models",
        model_names(),
        "model",
        default=runnable_model_names(),
        help="models to soak, in order (default: all that run here)",
    )
    parser.add_argument(
        "--duration",
        type=seconds,
        default=60.0,
        help="seconds of load per model (default 60)",
    )
    parser.add_argument(
        "--warmup",
        type=seconds,
        default=5.0,
        help="seconds of load before the baseline (default 5)",
    )
    parser.add_argument(
        "--concurrency",
        type=int_range(1, 10_000),
        default=32,
        help="concurrent client connections (default 32)",
    )


def run(args: argparse.Namespace) -> int:
    """Soak each model in turn, holding the bench lock; 0 if every model passed."""
    from common.bench_lock import bench_lock

    with bench_lock(f"iomodels soak --models {' '.join(args.models)}"):
        print(
            f"soak: {args.duration:g} s of hello/echo/io per model, {args.concurrency} connections; "
            f"pass = fds back to baseline and RSS growth < {RSS_GROWTH_MAX:.0%}",
            flush=True,
        )
        results = [soak(m, args.duration, args.warmup, args.concurrency) for m in args.models]
    return 0 if all(results) else 1
