"""prefork: workers forked once and supervised (start, respawn, give up), one slot of /stats each."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import psutil
import pytest

from servers.launcher import ServerProcess, ServerStartError
from tests.helpers import alive, hello_ok, wait_until, workers
from tests.wire import Wire, get

FAILING_FORK = '''\
"""Test double: once {marker} exists, every forked child dies at once (a worker that cannot start)."""
import os


def _die_if_marked():
    if os.path.exists({marker!r}):
        os._exit(3)


os.register_at_fork(after_in_child=_die_if_marked)
'''


def failing_fork_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PYTHONPATH whose ``sitecustomize`` kills forked children once the returned marker exists."""
    marker = tmp_path / "workers-die"
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "sitecustomize.py").write_text(FAILING_FORK.format(marker=str(marker)))
    return {"PYTHONPATH": str(shadow)}, marker


def stats(port: int) -> dict:
    with Wire(port) as wire:
        return json.loads(wire.request(get("/stats")).body)


def test_workers_default_to_one_per_cpu_and_share_stats() -> None:
    """One worker per CPU by default; /stats adds up every worker's slot."""
    with ServerProcess("prefork") as server:
        count = len(os.sched_getaffinity(0))
        assert len(workers(server)) == count  # all started before the ready line
        held = [Wire(server.port) for _ in range(count)]
        try:
            pids = {int(json.loads(w.request(get("/stats")).body)["pid"]) for w in held}
            assert len(pids) == count  # each connection holds a worker of its own
            for wire in held:
                assert wire.request(get("/")).status == 200
        finally:
            for wire in held:
                wire.close()
        doc = wait_until(lambda: (d := stats(server.port))["connections_open"] == 1 and d, 5)
        assert doc["workers"] == count and doc["model"] == "prefork"
        assert doc["requests_total"] >= 2 * count
        assert doc["root_pid"] == server.pid and doc["processes"] == count + 1


def test_sigkilled_worker_is_respawned_and_the_other_keeps_serving() -> None:
    with ServerProcess("prefork", args=["--workers", "2"]) as server:
        with Wire(server.port) as bystander, Wire(server.port) as victim:
            assert bystander.request(get("/")).status == 200
            dead = int(json.loads(victim.request(get("/stats")).body)["pid"])
            psutil.Process(dead).kill()
            assert victim.closed_by_peer(5)
            assert bystander.request(get("/")).status == 200
            wait_until(lambda: "respawned as pid" in server.log_text(), 5)
            pids = {p.pid for p in workers(server)}
            assert len(pids) == 2 and dead not in pids
        assert re.search(r"worker \d \(pid \d+\) died \(killed by SIGKILL\)", server.log_text())
        assert hello_ok(server.port)


def test_worker_dying_at_start_stops_the_master(tmp_path: Path) -> None:
    """A clear error and exit 1, tried once (no respawn loop), nothing left behind."""
    env, marker = failing_fork_env(tmp_path)
    marker.touch()
    server = ServerProcess("prefork", args=["--workers", "2"], env=env)
    with pytest.raises(ServerStartError) as failed:
        server.start()
    assert server.proc is not None and server.proc.returncode == 1
    message = str(failed.value)
    assert "iomodels: error: worker 0 (pid" in message and "did not start (exit code 3)" in message
    assert "worker 1" not in message


def test_worker_dying_on_respawn_stops_the_master(tmp_path: Path) -> None:
    env, marker = failing_fork_env(tmp_path)
    server = ServerProcess("prefork", args=["--workers", "2"], env=env).start()
    try:
        tree = server.tree()
        assert hello_ok(server.port)
        marker.touch()
        workers(server)[0].kill()
        assert server.proc is not None and server.proc.wait(10) == 1
        wait_until(lambda: not alive(tree), 5)
        log = server.log_text()
        assert "respawning" in log and log.count("did not start") == 1
    finally:
        server.kill()
