"""Slow clients beside the load: how they send and read, and what they do to a pool and a loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest

from clients.loadgen.config import MAX_SLOW_CLIENTS, LoadConfig
from clients.loadgen.slow_clients import (
    SlowClients,
    SlowFigures,
    SlowProfile,
    measure_beside_slow,
)
from servers.launcher import ServerProcess

SHORT = {"duration": 0.3, "warmup": 0.1}
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"slow_clients": -1},
        {"slow_clients": MAX_SLOW_CLIENTS + 1},
        {"slow_clients": 1, "mode": "echo"},
    ],
)
def test_config_bounds_the_slow_clients(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="slow clients"):
        LoadConfig(**kwargs)  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_a_slow_client_trickles_its_request_and_reads_through_a_small_window() -> None:
    """A server of our own records what arrives: a request in chunks of at most 8 bytes, spread
    over time; the client's receive buffer is small, and a 5,000-byte answer still completes."""
    chunks: list[bytes] = []
    done = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = b""
        while not request.endswith(b"\r\n\r\n"):
            chunk = await reader.read(1024)
            if not chunk:
                return
            chunks.append(chunk)
            request += chunk
        writer.write(RESPONSE)
        await writer.drain()
        done.set()
        await reader.read()  # until the client goes away

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    figures = SlowFigures()
    figures.measuring = True
    profile = SlowProfile(chunk=8, gap_s=0.01, window=4096, read_gap_s=0.01, think_s=60)
    async with server:
        slow = SlowClients(LoadConfig(port=port), profile, figures)
        await slow.start(1)
        (client,) = slow.open
        rcvbuf = client.transport.get_extra_info("socket").getsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF
        )
        await asyncio.wait_for(done.wait(), 10)
        for _ in range(500):
            if figures.requests:
                break
            await asyncio.sleep(0.01)
        assert await slow.stop() == 1
    request = LoadConfig(port=port).request()
    assert b"".join(chunks) == request
    assert len(chunks) >= len(request) // 8 and max(map(len, chunks)) <= 8
    assert rcvbuf <= 2 * 4096  # Linux doubles what is asked for its bookkeeping
    assert figures.requests == 1 and figures.refused == 0 and figures.closed == 0


@pytest.mark.asyncio
async def test_a_loop_serves_the_fast_clients_beside_slow_ones(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("uvloop")
    config = LoadConfig(port=server.port, connections=4, slow_clients=20, **SHORT)
    result = await measure_beside_slow(config)
    assert result.requests > 0 and result.errors == 0
    assert result.slow is not None
    assert result.slow["connected"] == result.slow["held"] == 20
    assert result.slow["closed"] == 0 and result.slow["refused"] == 0


@pytest.mark.asyncio
async def test_a_slow_client_the_server_closes_connects_again() -> None:
    """A server that answers with ``Connection: close`` (as a pool releasing keep-alive
    connections does): the slow client comes back after its think time, so the number of
    slow clients holds."""
    connections = 0

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    figures = SlowFigures()
    figures.measuring = True
    profile = SlowProfile(chunk=16, gap_s=0.01, read_gap_s=0.01, think_s=0.05)
    async with server:
        slow = SlowClients(LoadConfig(port=port), profile, figures)
        await slow.start(2)
        for _ in range(500):
            if figures.requests >= 6:
                break
            await asyncio.sleep(0.01)
        await slow.stop()
    assert figures.requests >= 6 and figures.refused == 0
    assert figures.closed >= 4 and figures.reconnects >= 4 and connections >= 6
