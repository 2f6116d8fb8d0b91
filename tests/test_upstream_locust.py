"""The Locust ``DbUser`` against a server reading a real redis-server: answers checked, none failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from servers.launcher import ServerProcess
from tests.test_locust import explain, read_run, run_locust
from tests.test_upstream import need_redis


def test_db_user_runs_without_failures(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    need_redis()
    from common.redis_server import RedisServer

    with RedisServer() as redis:
        server = start_server("asyncio", args=["--upstream", redis.url])
        proc = run_locust(server.url, ["DbUser"], tmp_path)
        result = read_run(tmp_path)
    assert proc.returncode == 0, explain(proc, tmp_path)
    assert result["requests"] > 0
    assert result["failures"] == 0
