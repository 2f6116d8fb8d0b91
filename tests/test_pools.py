"""The pools' keep-alive policy (servers/models/_pool.py), with more clients than pool members."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from clients.loadgen.config import LoadConfig
from clients.loadgen.runner import measure
from servers.launcher import ServerProcess
from servers.registry import MODELS
from tests.helpers import skip_unavailable
from tests.wire import Wire, get

POOLS = [name for name, info in MODELS.items() if info.pool is not None]
#: The keep-alive timeout the servers run with: a client starved until it ends is far past this bound.
KEEPALIVE = 5.0
#: Measured idle: a waiting client is answered 0.10-0.12 s after it connects; 10x that, half the timeout.
ANSWERED_WITHIN = KEEPALIVE / 2


def one_member(model: str, *args: str) -> ServerProcess:
    skip_unavailable(model)
    return ServerProcess(model, args=[MODELS[model].pool or "", "1", *args])


@pytest.mark.parametrize("model", POOLS)
def test_a_quiet_keep_alive_connection_makes_room_for_a_waiting_one(model: str) -> None:
    with one_member(model) as server, Wire(server.port) as quiet, Wire(server.port) as waiting:
        assert quiet.request(get("/")).status == 200
        started = time.monotonic()
        response = waiting.request(get("/"))
        took = time.monotonic() - started
        assert response.status == 200
        assert took < ANSWERED_WITHIN, (
            f"{model}: the waiting client was answered after {took:.2f} s"
        )
        assert quiet.closed_by_peer(5)  # released: the pool closed it


@pytest.mark.parametrize("model", POOLS)
def test_a_busy_keep_alive_connection_is_told_to_close(model: str) -> None:
    """A client asking without pause is answered Connection: close, never cut off mid-stream."""
    with one_member(model) as server:
        statuses: list[tuple[int, bool]] = []
        stop = threading.Event()

        def busy() -> None:
            with Wire(server.port) as wire:
                while not stop.is_set():
                    response = wire.request(get("/"))
                    statuses.append((response.status, response.closes))
                    if response.closes:
                        assert wire.closed_by_peer(5)
                        return

        client = threading.Thread(target=busy)
        client.start()
        try:
            while not statuses:
                time.sleep(0.01)
            with Wire(server.port) as waiting:
                started = time.monotonic()
                assert waiting.request(get("/")).status == 200
                took = time.monotonic() - started
        finally:
            stop.set()
            client.join(10)
        assert took < ANSWERED_WITHIN, (
            f"{model}: the waiting client was answered after {took:.2f} s"
        )
        assert all(status == 200 for status, _ in statuses)
        assert statuses[-1][1], "the busy connection was never told Connection: close"


@pytest.mark.parametrize("model", POOLS)
def test_an_idle_timeout_closes_without_lingering(model: str) -> None:
    """Nothing was sent since the last response: the socket is closed, not half-closed and drained."""
    with one_member(model, "--keepalive-timeout", "1") as server:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(get("/"))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            sock.settimeout(5)
            assert sock.recv(1) == b""  # the idle timeout
            # a lingering close reads and drops what comes for LINGER_S; a closed socket resets
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                for _ in range(25):
                    sock.sendall(get("/"))
                    time.sleep(0.02)


@pytest.mark.asyncio
@pytest.mark.parametrize("pipeline", [1, 4])
@pytest.mark.parametrize("model", POOLS)
async def test_our_loader_counts_no_error_when_a_pool_releases_it(
    model: str, pipeline: int
) -> None:
    """Ten connections on two members: all take turns, the loader reconnects without an error
    (what it had pipelined behind the last answer goes out again on the new connection)."""
    skip_unavailable(model)
    with ServerProcess(model, args=[MODELS[model].pool or "", "2"]) as server:
        result = await measure(
            LoadConfig(
                port=server.port, connections=10, pipeline=pipeline, duration=1.5, warmup=0.2
            )
        )
    assert result.requests > 0
    assert result.errors == 0, result.error_kinds


@pytest.mark.asyncio
@pytest.mark.parametrize("model", POOLS)
async def test_a_stalled_loader_retries_what_an_idle_release_crossed(model: str) -> None:
    """The loader stalls twice for 0.15 s (a busy machine): the members' connections go quiet
    for longer than RELEASE_AFTER while others wait, so the pool closes them just as the
    loader sends its next request. The loader retries those requests on a new connection
    (RFC 9112 section 9.3.1) instead of counting them lost."""
    skip_unavailable(model)
    with ServerProcess(model, args=[MODELS[model].pool or "", "2"]) as server:
        loop = asyncio.get_running_loop()
        for at in (0.6, 1.1):
            loop.call_later(at, time.sleep, 0.15)  # blocks the loader's loop: a stall
        result = await measure(
            LoadConfig(port=server.port, connections=10, duration=1.5, warmup=0.2)
        )
    assert result.requests > 0
    assert result.errors == 0, result.error_kinds
    assert result.retried > 0
