"""The asyncio driver (asyncio, uvloop, multiprocess workers), run in this process on each loop.

The driver is served on the test's own event loop (pytest-asyncio runs each test once on the
stdlib loop and once on uvloop), behind both of its acceptors: the loop's own server (the
asyncio and uvloop models) and the balanced acceptor of a multiprocess worker.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from servers.models._aio import AsyncServer, BalancedAcceptor, ProtocolPump
from servers.protocol.config import ServerConfig
from servers.stats import LocalStats
from tests.helpers import wait_until_async
from tests.wire import get, read_response


@pytest_asyncio.fixture(params=["loop-server", "balanced"])
async def driver(request: pytest.FixtureRequest) -> AsyncIterator[tuple[AsyncServer, int]]:
    """The driver listening on 127.0.0.1 (a free port): (the server, its port)."""
    server = AsyncServer(ServerConfig(), LocalStats("driver"), cap=100)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    acceptor: asyncio.AbstractServer | BalancedAcceptor
    if request.param == "balanced":
        acceptor = BalancedAcceptor(server, listener, lambda: True)
    else:
        acceptor = await server.loop.create_server(lambda: ProtocolPump(server), sock=listener)
    try:
        yield server, port
    finally:
        acceptor.close()
        for pump in list(server.pumps):
            pump.transport.abort()


@pytest.mark.asyncio
async def test_a_client_resetting_during_a_wait_is_noticed(
    driver: tuple[AsyncServer, int],
) -> None:
    """Noticed at once (idle: within 0.02 s, one poll), not when the 10 s wait ends and a write
    fails: the bound is 5 s."""
    server, port = driver
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(get("/io?ms=10000"))
    await wait_until_async(lambda: server.stats.requests == 1, 10, what="the server waiting")
    (pump,) = server.pumps
    assert pump.timer is not None
    linger_zero = struct.pack("ii", 1, 0)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_zero)
    writer.transport.abort()  # RST while the server waits
    start = time.monotonic()
    await wait_until_async(lambda: server.stats.open == 0, 5, what="the reset noticed")
    print(f"reset noticed after {time.monotonic() - start:.4f} s")
    assert pump.timer is None  # the wait was cancelled, not left to fire


@pytest.mark.asyncio
async def test_a_long_pipeline_of_waits_is_answered_in_order(
    driver: tuple[AsyncServer, int],
) -> None:
    """More pipelined requests than the driver queues behind a Wait: reading pauses, nothing is lost."""
    server, port = driver
    count = 300
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"".join(get(f"/io?ms={i % 3}") for i in range(count)))
        bodies = [(await read_response(reader)).body for _ in range(count)]
    finally:
        writer.close()
    assert bodies == [b"waited %d ms\n" % (i % 3) for i in range(count)]
    assert server.stats.requests == count
