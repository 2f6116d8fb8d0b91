"""The ``upstream`` experiment, briefly: a pool bounds the connections to Redis, a thread each does not."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
