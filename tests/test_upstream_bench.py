"""The ``upstream`` experiment, briefly: a pool bounds the connections to Redis, a thread each does not."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from clients.bench import experiments, upstream_report
from clients.bench.claims import judge
from clients.bench.measures import Results
from clients.bench.records import Experiments, Verdict
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


def _row(model: str, clients: int, cpu_us: float, conns: int) -> dict[str, object]:
    pool = "thread" if model in ("thread", "fork", "threadpool", "prefork") else "pool"
    return {
        "model": model, "connections": clients, "rps": 1000.0, "server_cpu_us": cpu_us,
        "p99_ms": 5.0, "redis_connections": conns, "redis_cpu_us": 15.0, "errors": 0, "pool": pool,
    }  # fmt: skip


def _verdicts(rows: list[dict[str, object]]) -> dict[str, Verdict]:
    results = Results(machine={}, runs=[], experiments=Experiments(upstream=rows))
    return {v.id: v for v in judge(results) if v.id.startswith("upstream-")}


@pytest.mark.parametrize("thread_conns, holds", [(1000, True), (40, False)])
def test_the_connections_claim_reads_the_most_clients(thread_conns: int, holds: bool) -> None:
    rows = [
        _row("thread", 100, 60, 100), _row("reactor", 100, 55, 10),
        _row("thread", 1000, 200, thread_conns), _row("reactor", 1000, 60, 10),
        _row("threadpool", 1000, 90, 32),  # a fixed pool: neither side
    ]  # fmt: skip
    verdict = _verdicts(rows)["upstream-connections"]
    assert verdict.holds is holds
    assert (verdict.value, verdict.theirs) == (thread_conns, 10)


@pytest.mark.parametrize("thread_at_most, holds", [(200, True), (66, False)])
def test_the_cpu_growth_claim_needs_two_client_counts(thread_at_most: float, holds: bool) -> None:
    rows = [
        _row("thread", 100, 60, 100), _row("reactor", 100, 50, 10), _row("asyncio", 100, 80, 10),
        _row("thread", 1000, thread_at_most, 1000), _row("reactor", 1000, 60, 10),
        _row("asyncio", 1000, 88, 10),
    ]  # fmt: skip
    verdict = _verdicts(rows)["upstream-thread-cpu-growth"]
    assert verdict.holds is holds
    assert verdict.theirs == pytest.approx(1.2)  # reactor's growth, the steepest loop's
    assert "upstream-thread-cpu-growth" not in _verdicts(
        [r for r in rows if r["connections"] == 100]
    )


def test_the_report_shows_the_rows() -> None:
    rows = [_row("thread", 100, 60, 100), _row("reactor", 100, 55, 10)]
    headers, cells = upstream_report.table(rows)
    assert headers[5] == "Redis conns"
    assert [c[0] for c in cells] == ["thread", "reactor"]
    assert [c[-1] for c in cells] == ["per thread", "pool"]


def test_a_model_that_left_clients_unserved_is_not_judged() -> None:
    """thread failing requests at 1,000 clients: its connections and CPU cover only the clients
    it served, so neither claim is judged on it (the verdict says why)."""
    rows = [
        _row("thread", 100, 60, 100), _row("reactor", 100, 50, 10),
        _row("thread", 1000, 200, 620), _row("reactor", 1000, 60, 10),
    ]  # fmt: skip
    rows[2]["errors"] = 661
    verdicts = _verdicts(rows)
    for claim in ("upstream-connections", "upstream-thread-cpu-growth"):
        assert verdicts[claim].holds is None
        assert "thread failed 661 requests at 1,000 clients" in verdicts[claim].measured


def test_the_connections_claim_leaves_out_a_model_that_refused_clients() -> None:
    """fork refusing beyond its cap at 1,000 clients: judged on thread, fork named as left out."""
    rows = [
        _row("thread", 1000, 200, 1000),
        _row("fork", 1000, 300, 265),
        _row("reactor", 1000, 60, 10),
    ]
    rows[1]["errors"] = 799
    verdict = _verdicts(rows)["upstream-connections"]
    assert verdict.holds is True and verdict.value == 1000
    assert "left out: fork failed 799 requests at 1,000 clients" in verdict.measured
