"""Fault isolation (--allow-crash, SIGKILL), worker start-up failure, and SIGTERM semantics."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from servers.launcher import ServerProcess, ServerStartError
from tests.test_robustness_util import alive, hello_ok, wait_closed, workers
from tests.wire import Wire, get

Start = Callable[..., ServerProcess]

#: What a request to /crash does, per model: only the connection, a worker (respawned), or all.
CRASH_KILLS = {
    "fork": "connection",
    "thread": "process",
    "gevent": "process",
    "asyncio": "process",
    "uvloop": "process",
    "multiprocess": "worker",
    "reactor": "process",
    "generators": "process",
    "interpreters": "process",  # the interpreters share one process: a SIGSEGV ends them all
}


def worker_pid(wire: Wire) -> int:
    return int(json.loads(wire.request(get("/stats")).body)["pid"])


def wires_on_two_workers(port: int) -> tuple[Wire, Wire, list[Wire]]:
    """Two keep-alive connections served by different multiprocess workers (and the spares)."""
    opened: list[Wire] = []
    by_pid: dict[int, Wire] = {}
    for _ in range(40):
        wire = Wire(port)
        opened.append(wire)
        by_pid.setdefault(worker_pid(wire), wire)
        if len(by_pid) == 2:
            first, second = by_pid.values()
            return first, second, [w for w in opened if w not in (first, second)]
    raise AssertionError("every connection landed on one worker")


def wait_respawn(server: ServerProcess, dead: int, count: int, limit: float) -> float | None:
    """Seconds until ``count`` workers are alive again, none of them ``dead``."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        pids = {p.pid for p in workers(server)}
        if len(pids) == count and dead not in pids:
            return time.monotonic() - start
        time.sleep(0.01)
    return None


def respawn_log_seconds(server: ServerProcess, limit: float = 5.0) -> float:
    """The respawn time the supervisor logged (start to ready)."""
    start = time.monotonic()
    while not (match := re.search(r"respawned as pid \d+ in ([0-9.]+) s", server.log_text())):
        assert time.monotonic() - start < limit, server.log_text()
        time.sleep(0.02)
    return float(match.group(1))


def test_crash_isolation(model: str, start_server: Start) -> None:
    """GET /crash kills exactly what the model's isolation says (the README table)."""
    extra = ["--workers", "2"] if model == "multiprocess" else []
    server = start_server(model, args=["--allow-crash", *extra])
    assert "GET /crash is ENABLED" in server.log_text()
    if model == "multiprocess":
        bystander, victim, spares = wires_on_two_workers(server.port)
    else:
        bystander, victim, spares = Wire(server.port), Wire(server.port), []
        assert bystander.request(get("/")).status == 200
    try:
        victim_pid = worker_pid(victim) if model == "multiprocess" else 0
        victim.send(get("/crash"))
        crashed_at = time.monotonic()
        took, data = wait_closed(victim.sock, 5)
        assert took is not None and data == b"", "the crashing connection got an answer"
        kills = CRASH_KILLS[model]
        if kills == "process":
            assert server.proc is not None and server.proc.wait(5) == -signal.SIGSEGV
            assert bystander.closed_by_peer(2)
            return
        assert bystander.request(get("/")).status == 200, "another connection was hurt"
        assert hello_ok(server.port)
        if kills == "worker":
            start_to_ready = respawn_log_seconds(server)  # waits for the "respawned" line
            total = time.monotonic() - crashed_at
            assert wait_respawn(server, victim_pid, 2, 1) is not None
            print(
                f"multiprocess /crash: new worker ready {total:.3f} s after the crash "
                f"(spawn to ready {start_to_ready:.3f} s)"
            )
            assert total <= 1.0
        assert server.proc is not None and server.proc.poll() is None
    finally:
        for wire in (bystander, victim, *spares):
            wire.close()


def test_sigkilled_worker_is_respawned(start_server: Start) -> None:
    """multiprocess: a SIGKILLed worker is replaced within 1 s; the other keeps serving."""
    server = start_server("multiprocess", args=["--workers", "2"])
    bystander, victim, spares = wires_on_two_workers(server.port)
    try:
        dead = worker_pid(victim)
        killed_at = time.monotonic()
        psutil.Process(dead).kill()
        start_to_ready = respawn_log_seconds(server)
        total = time.monotonic() - killed_at
        print(
            f"SIGKILL: new worker ready {total:.3f} s after the kill (spawn to ready {start_to_ready:.3f} s)"
        )
        assert total <= 1.0
        assert wait_respawn(server, dead, 2, 1) is not None
        assert victim.closed_by_peer(2)
        assert bystander.request(get("/")).status == 200
        assert "killed by SIGKILL" in server.log_text()
        assert hello_ok(server.port)
    finally:
        for wire in (bystander, victim, *spares):
            wire.close()


BROKEN_UVLOOP = '''\
"""Test double: a uvloop that fails to import once {marker} exists (a broken install)."""
import importlib, os, sys
if os.path.exists({marker!r}):
    raise RuntimeError("uvloop is broken (test double)")
sys.path.remove(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
del sys.modules["uvloop"]
sys.modules["uvloop"] = importlib.import_module("uvloop")
'''


def broken_uvloop_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """A PYTHONPATH whose ``uvloop`` fails in workers once the returned marker file exists.

    Only multiprocess workers import uvloop, so the supervisor itself is unaffected.
    """
    marker = tmp_path / "break-uvloop"
    package = tmp_path / "shadow" / "uvloop"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(BROKEN_UVLOOP.format(marker=str(marker)))
    return {"PYTHONPATH": str(tmp_path / "shadow")}, marker


def test_worker_failing_at_startup_stops_supervisor(tmp_path: Path) -> None:
    """A worker that cannot start: a clear error and exit 1, no respawn loop, nothing left."""
    env, marker = broken_uvloop_env(tmp_path)
    marker.touch()
    server = ServerProcess("multiprocess", args=["--workers", "2"], env=env)
    with pytest.raises(ServerStartError) as failed:
        server.start()
    assert server.proc is not None and server.proc.returncode == 1
    message = str(failed.value)
    assert "iomodels: error: worker 0" in message and "did not start" in message
    assert message.count("RuntimeError: uvloop is broken") == 1  # tried once, not in a loop


def test_worker_failing_on_respawn_stops_supervisor(tmp_path: Path) -> None:
    """A worker that dies and then cannot be restarted: the supervisor stops, leaving nothing."""
    env, marker = broken_uvloop_env(tmp_path)
    server = ServerProcess("multiprocess", args=["--workers", "2"], env=env).start()
    try:
        tree = server.tree()
        assert hello_ok(server.port)
        marker.touch()
        workers(server)[0].kill()
        assert server.proc is not None and server.proc.wait(10) == 1
        time.sleep(0.2)
        assert not alive(tree), "processes left behind"
        log = server.log_text()
        assert "did not start" in log and log.count("RuntimeError: uvloop is broken") == 1
    finally:
        server.kill()


# -- shutdown -----------------------------------------------------------------------------
def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False


def test_sigterm_stops_accepting_at_once_and_drains(model: str, start_server: Start) -> None:
    """SIGTERM: new connections refused at once, idle keep-alive closed at once, the request
    in flight answered, exit 0, no process left behind."""
    server = start_server(model, args=["--graceful-timeout", "5"])
    tree = server.tree()
    with Wire(server.port) as busy, Wire(server.port) as idle:
        assert idle.request(get("/")).status == 200
        busy.send(get("/io?ms=1500"))
        time.sleep(0.3)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        took, _ = wait_closed(idle.sock, 3)
        assert took is not None and took <= 1.0, "idle keep-alive connection not closed at once"
        while not refused(server.port):
            assert time.monotonic() - start < 1.0, "still accepting after SIGTERM"
            time.sleep(0.02)
        response = busy.read_response()
        assert response.status == 200 and response.body == b"waited 1500 ms\n"
        assert busy.closed_by_peer(2)
    assert server.proc.wait(10) == 0
    time.sleep(0.2)
    assert not alive(tree), "processes left behind"


@pytest.mark.slow
def test_second_signal_forces_the_stop(model: str, start_server: Start) -> None:
    """A second SIGTERM ends the grace period at once; nothing is left behind."""
    server = start_server(model, args=["--graceful-timeout", "30"])
    tree = server.tree()
    with Wire(server.port) as busy:
        busy.send(get("/io?ms=10000"))
        time.sleep(0.3)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.proc.poll() is None  # still draining
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(10)
        assert time.monotonic() - start < 3.0
        assert busy.closed_by_peer(2)
    time.sleep(0.2)
    assert not alive(tree), "processes left behind"


@pytest.mark.slow
def test_grace_period_ends_the_stop(model: str, start_server: Start) -> None:
    """With --graceful-timeout 1 a 10 s request does not hold the shutdown up."""
    server = start_server(model, args=["--graceful-timeout", "1"])
    tree = server.tree()
    with Wire(server.port) as busy:
        busy.send(get("/io?ms=10000"))
        time.sleep(0.3)
        assert server.proc is not None
        start = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(10) == 0
        assert time.monotonic() - start < 1.0 + 2.0
        assert busy.closed_by_peer(2)
    time.sleep(0.2)
    assert not alive(tree), "processes left behind"
