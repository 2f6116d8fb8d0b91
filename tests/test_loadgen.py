"""The load client: framing, histograms, config, and short real runs against a uvloop server.

The runs are coroutines awaited by async tests, so each runs on the stdlib loop and on uvloop;
one test covers the synchronous ``run_load`` that the CLI calls.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from clients.loadgen.config import LoadConfig
from clients.loadgen.histogram import LatencyRecorder
from clients.loadgen.http_client import content_length
from clients.loadgen.idle import idle_steps
from clients.loadgen.runner import measure, run_load
from clients.loadgen.state import ERROR_KINDS
from servers.launcher import ServerProcess

SHORT: dict[str, Any] = {"duration": 0.3, "warmup": 0.1}


@pytest.mark.parametrize(
    "head, expected",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n", 13),
        (b"HTTP/1.1 200 OK\r\ncontent-length: 7\r\nX: y\r\n\r\n", 7),
        (b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH:0\r\n\r\n", 0),
        (b"HTTP/1.1 200 OK\r\nX: y\r\n\r\n", -1),
    ],
)
def test_content_length(head: bytes, expected: int) -> None:
    assert content_length(head, 0, head.find(b"\r\n\r\n")) == expected


def test_content_length_finds_the_header_of_a_later_response() -> None:
    buf = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 X\r\nContent-Length: 4\r\n\r\nnope"
    start = buf.index(b"ok") + 2
    assert content_length(buf, start, buf.find(b"\r\n\r\n", start)) == 4


def test_recorder_percentiles_in_ms() -> None:
    rec = LatencyRecorder()
    for micros in range(1, 1001):
        rec.record(micros * 1000)
    summary = rec.summary()
    assert summary["p50"] == pytest.approx(0.5, rel=0.01)
    assert summary["p99"] == pytest.approx(0.99, rel=0.01)
    assert summary["max"] == pytest.approx(1.0)
    assert rec.encoded()


def test_empty_recorder_reports_none() -> None:
    assert LatencyRecorder().summary()["p99"] is None


def test_config_validates_and_builds_requests() -> None:
    with pytest.raises(ValueError):
        LoadConfig(mode="smtp")
    with pytest.raises(ValueError):
        LoadConfig(rate=100, pipeline=2)
    assert LoadConfig(port=9, mode="churn").request().endswith(b"Connection: close\r\n\r\n")
    assert len(LoadConfig(mode="echo", size=1000).request()) == 1000


# -- short real runs, on each event loop (pytest-asyncio runs every async test on both) ------
@pytest.fixture(scope="module")
def hello_server() -> Iterator[ServerProcess]:
    """One uvloop HTTP server for the module's runs (each run closes its connections)."""
    with ServerProcess("uvloop") as server:
        yield server


@pytest.mark.asyncio
async def test_closed_loop_http(hello_server: ServerProcess) -> None:
    result = await measure(LoadConfig(port=hello_server.port, connections=4, **SHORT))
    assert result.requests > 0 and result.errors == 0
    assert (
        result.latency_ms["p50"] is not None
        and result.latency_ms["p50"] <= result.latency_ms["max"]
    )
    assert result.connected == 4


@pytest.mark.asyncio
async def test_pipelining_answers_in_order(hello_server: ServerProcess) -> None:
    result = await measure(LoadConfig(port=hello_server.port, connections=2, pipeline=8, **SHORT))
    assert result.requests > 0 and result.errors == 0


@pytest.mark.asyncio
async def test_churn_opens_a_connection_per_request(hello_server: ServerProcess) -> None:
    result = await measure(LoadConfig(port=hello_server.port, mode="churn", connections=2, **SHORT))
    assert result.requests > 0 and result.errors == 0


@pytest.mark.asyncio
async def test_open_loop_keeps_to_the_rate(hello_server: ServerProcess) -> None:
    started = time.perf_counter()
    result = await measure(
        LoadConfig(port=hello_server.port, connections=2, rate=200, duration=0.5, warmup=0.1)
    )
    elapsed = time.perf_counter() - started  # the warm-up and the window, however long they took
    # never ahead of the schedule: at most what the rate allows since the start, plus one
    # request per connection (a late loader catches up, so this is an upper bound only)
    assert 0 < result.requests <= 200 * elapsed + 2
    assert result.errors == 0


@pytest.mark.asyncio
async def test_errors_are_counted(hello_server: ServerProcess) -> None:
    result = await measure(
        LoadConfig(port=hello_server.port, path="/nowhere", connections=2, **SHORT)
    )
    assert result.errors > 0


@pytest.mark.asyncio
async def test_connections_a_pool_never_serves_are_counted(
    start_server: Callable[..., ServerProcess],
) -> None:
    """One prefork worker serves one echo stream at a time (an HTTP connection it would release):
    the other two wait in the backlog for the whole window, and the result says so instead of
    timing only the served one."""
    server = start_server("prefork", "echo", ["--workers", "1"])
    result = await measure(LoadConfig(port=server.port, mode="echo", connections=3, **SHORT))
    assert result.requests > 0
    assert result.error_kinds.get("starved") == 2 and result.errors >= 2


@pytest.mark.asyncio
async def test_echo_gets_every_byte_back(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server("uvloop", "echo")
    result = await measure(
        LoadConfig(port=server.port, mode="echo", size=10_000, connections=3, **SHORT)
    )
    assert result.requests > 0 and result.errors == 0
    assert result.bytes_in >= 10_000 * result.requests * 0.9


@pytest.mark.asyncio
@pytest.mark.parametrize("says_close", [True, False])
async def test_a_close_after_each_answer_counts_once_unless_announced(says_close: bool) -> None:
    """A server that answers one request a connection and closes it: saying ``Connection: close``
    (gunicorn's sync worker, a pool releasing a client) is no error, the loader connects again;
    without it, the request the client had sent next crossed the close: it is retried on a new
    connection (RFC 9112 section 9.3.1), counted apart, never an error and never also 'closed'."""
    header = b"Connection: close\r\n" if says_close else b""

    async def answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n" + header + b"\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer_once, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        result = await measure(LoadConfig(port=port, connections=2, **SHORT))
    assert result.requests > 0
    assert result.errors == 0, result.error_kinds
    if says_close:
        assert result.retried == 0
    else:
        assert result.retried > 0


@pytest.mark.asyncio
async def test_a_new_connection_closed_before_its_first_answer_is_not_retried() -> None:
    """Only a connection that has answered before retries: one that closes without answering
    (a server failing every request) counts its requests as 'unanswered'."""

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        result = await measure(LoadConfig(port=port, connections=2, **SHORT))
    assert result.requests == 0 and result.retried == 0
    assert set(result.error_kinds) == {"unanswered"} <= set(ERROR_KINDS), result.error_kinds


def test_load_to_a_dead_port_says_why_and_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.run(
        [sys.executable, "-m", "iomodels", "load", f"http://127.0.0.1:{port}/", "-d", "0.3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "req/s" not in proc.stdout  # no empty table
    line = proc.stderr.strip().splitlines()[-1]
    assert "10 of 10 connections failed (ConnectionRefusedError" in line, proc.stderr


def test_run_load_runs_on_a_loop_of_its_own(hello_server: ServerProcess) -> None:
    """The synchronous entry point (the CLI's): a fresh uvloop loop per run."""
    result = run_load(LoadConfig(port=hello_server.port, connections=2, **SHORT))
    assert result.requests > 0 and result.errors == 0 and result.connected == 2


async def idle(port: int, steps: list[int]) -> list[dict[str, Any]]:
    """The idle-connection steps against ``port``, with a probe run at each step."""
    probe = LoadConfig(port=port, connections=2, duration=0.2, warmup=0.05)

    async def pause(step: dict[str, Any]) -> None:
        """Nothing to measure between the hold and the probe."""

    return await idle_steps(probe, steps, pause, lambda step: None)


@pytest.mark.asyncio
async def test_idle_steps_hold_connections(hello_server: ServerProcess) -> None:
    rows = await idle(hello_server.port, [0, 30])
    assert [r["held"] for r in rows] == [0, 30]
    assert rows[-1]["refused"] == 0 and rows[-1]["probe"]["errors"] == 0


@pytest.mark.asyncio
async def test_idle_steps_stop_where_the_server_refuses(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("thread", args=["--max-connections", "10"])
    rows = await idle(server.port, [0, 20, 40])
    assert len(rows) == 2  # stopped after the first step with refusals
    assert rows[-1]["held"] <= 10 and rows[-1]["refused"] + rows[-1]["closed"] >= 10
