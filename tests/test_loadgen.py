"""The load client: framing, histograms, config, and short real runs against a uvloop server."""

from __future__ import annotations

import asyncio

import pytest

from clients.loadgen.config import LoadConfig
from clients.loadgen.histogram import LatencyRecorder
from clients.loadgen.http_client import content_length
from clients.loadgen.idle import idle_steps
from clients.loadgen.runner import new_loop, run_load

SHORT = {"duration": 0.3, "warmup": 0.1}


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


def test_closed_loop_http(start_server) -> None:
    server = start_server("uvloop")
    result = run_load(LoadConfig(port=server.port, connections=4, **SHORT))
    assert result.requests > 0 and result.errors == 0
    assert (
        result.latency_ms["p50"] is not None
        and result.latency_ms["p50"] <= result.latency_ms["max"]
    )
    assert result.connected == 4


def test_pipelining_answers_in_order(start_server) -> None:
    server = start_server("uvloop")
    result = run_load(LoadConfig(port=server.port, connections=2, pipeline=8, **SHORT))
    assert result.requests > 0 and result.errors == 0


def test_echo_gets_every_byte_back(start_server) -> None:
    server = start_server("uvloop", "echo")
    result = run_load(
        LoadConfig(port=server.port, mode="echo", size=10_000, connections=3, **SHORT)
    )
    assert result.requests > 0 and result.errors == 0
    assert result.bytes_in >= 10_000 * result.requests * 0.9


def test_churn_opens_a_connection_per_request(start_server) -> None:
    server = start_server("uvloop")
    result = run_load(LoadConfig(port=server.port, mode="churn", connections=2, **SHORT))
    assert result.requests > 0 and result.errors == 0


def test_open_loop_keeps_to_the_rate(start_server) -> None:
    server = start_server("uvloop")
    result = run_load(
        LoadConfig(port=server.port, connections=2, rate=200, duration=0.5, warmup=0.1)
    )
    # never ahead of the schedule: at most what the rate allows since the start (a late loader catches up)
    assert 0 < result.requests <= 200 * (0.5 + 0.1) + 2 * 2
    assert result.errors == 0


def test_errors_are_counted(start_server) -> None:
    server = start_server("uvloop")
    result = run_load(LoadConfig(port=server.port, path="/nowhere", connections=2, **SHORT))
    assert result.errors > 0


def _idle(port: int, steps: list[int]) -> list[dict]:
    probe = LoadConfig(port=port, connections=2, duration=0.2, warmup=0.05)

    async def pause(step: dict) -> None:
        await asyncio.sleep(0)

    async def main() -> list[dict]:
        return await idle_steps(probe, steps, pause, lambda step: None)

    with asyncio.Runner(loop_factory=new_loop) as runner:
        return runner.run(main())


def test_idle_steps_hold_connections(start_server) -> None:
    server = start_server("uvloop")
    rows = _idle(server.port, [0, 30])
    assert [r["held"] for r in rows] == [0, 30]
    assert rows[-1]["refused"] == 0 and rows[-1]["probe"]["errors"] == 0


def test_idle_steps_stop_where_the_server_refuses(start_server) -> None:
    server = start_server("thread", args=["--max-connections", "10"])
    rows = _idle(server.port, [0, 20, 40])
    assert len(rows) == 2  # stopped after the first step with refusals
    assert rows[-1]["held"] <= 10 and rows[-1]["refused"] + rows[-1]["closed"] >= 10
