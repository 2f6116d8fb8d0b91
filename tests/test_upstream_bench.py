"""The ``upstream`` experiment, briefly: a pool bounds the connections to Redis, a thread each does not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.bench import experiments
from clients.bench.upstream import run_upstream
from common.redis_server import RedisServer
from tests.test_upstream import need_redis

CLIENTS = 20


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    need_redis()
    with RedisServer() as server:
        yield server


def test_a_thread_per_connection_opens_a_redis_connection_per_client(redis: RedisServer) -> None:
    result = run_upstream("thread", CLIENTS, redis, duration=1.0, warmup=0.3)
    assert result.rps > 0 and result.errors == 0
    assert result.redis_connections == CLIENTS
    assert result.server_cpu_us > 0 and result.redis_cpu_us > 0


def test_an_event_loop_shares_its_bounded_pool(redis: RedisServer) -> None:
    result = run_upstream("asyncio", CLIENTS, redis, duration=1.0, warmup=0.3)
    assert result.rps > 0 and result.errors == 0
    assert 1 <= result.redis_connections <= 10  # --upstream-pool's default
    assert result.p99_ms is not None


def test_the_bench_runs_it_as_an_experiment_and_reads_its_rows(tmp_path: Path) -> None:
    need_redis()
    command = [sys.executable, "-m", "clients.bench.upstream", "--out", str(tmp_path)]
    command += ["--models", "reactor", "--connections", "4", "--duration", "0.5"]
    subprocess.run(command, check=True, timeout=120, capture_output=True)
    rows = experiments.load(tmp_path).upstream
    assert rows is not None and [(r["model"], r["connections"]) for r in rows] == [("reactor", 4)]
    assert rows[0]["rps"] > 0 and 1 <= rows[0]["redis_connections"] <= 4
