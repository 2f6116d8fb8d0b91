"""Fault isolation (--allow-crash, SIGKILL), worker start-up failure, and SIGTERM semantics."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from servers.launcher import ServerProcess, ServerStartError
from servers.registry import MODELS
from tests.helpers import (
    alive,
    hello_ok,
    in_flight,
    readable,
    refused,
    wait_closed,
    wait_until,
    workers,
)
from tests.wire import Wire, get

Start = Callable[..., ServerProcess]

RESPAWNED = re.compile(r"respawned as pid \d+ in ([0-9.]+) s")
#: A dead multiprocess worker is replaced and the new one ready 0.08 to 0.12 s after the death
#: (measured idle, three runs); the bound is over 5x that (speed belongs to ``make bench``).
RESPAWN_BOUND = 2.0


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


def workers_without(server: ServerProcess, dead: int) -> set[int]:
    """The pids of the live workers, or none at all while ``dead`` is still among them."""
    pids = {p.pid for p in workers(server)}
    return set() if dead in pids else pids


def respawn_log_seconds(server: ServerProcess, timeout: float) -> float:
    """The respawn time the supervisor logged (spawn to ready), once it has logged it."""
    match = wait_until(
        lambda: RESPAWNED.search(server.log_text()), timeout, what="the supervisor's respawn line"
    )
    return float(match.group(1))


def test_crash_isolation(model: str, start_server: Start) -> None:
    """GET /crash kills exactly what the model's isolation says (the README table)."""
    extra = ["--workers", "2"] if "--workers" in MODELS[model].flags else []
    server = start_server(model, args=["--allow-crash", *extra])
    assert "GET /crash is ENABLED" in server.log_text()
    if model == "multiprocess":
        bystander, victim, spares = wires_on_two_workers(server.port)
    else:  # prefork: each connection holds a worker of its own, so these are on two workers
        bystander, victim, spares = Wire(server.port), Wire(server.port), []
        assert bystander.request(get("/")).status == 200
    try:
        kills = MODELS[model].crash_kills
        victim_pid = worker_pid(victim) if kills == "worker" else 0
        victim.send(get("/crash"))
        crashed_at = time.monotonic()
        took, data = wait_closed(victim.sock, 5)
        assert took is not None and data == b"", "the crashing connection got an answer"
        if kills == "process":
            assert server.proc is not None and server.proc.wait(5) == -signal.SIGSEGV
            assert bystander.closed_by_peer(2)
            return
        assert bystander.request(get("/")).status == 200, "another connection was hurt"
        assert hello_ok(server.port)
        if kills == "worker":
            start_to_ready = respawn_log_seconds(server, RESPAWN_BOUND)
            total = time.monotonic() - crashed_at
            print(
                f"{model} /crash: new worker ready {total:.3f} s after the crash "
                f"(spawn to ready {start_to_ready:.3f} s)"
            )
            assert total <= RESPAWN_BOUND
            wait_until(lambda: len(workers_without(server, victim_pid)) == 2, RESPAWN_BOUND)
        assert server.proc is not None and server.proc.poll() is None
    finally:
        for wire in (bystander, victim, *spares):
            wire.close()


def test_sigkilled_worker_is_respawned(start_server: Start) -> None:
    """multiprocess: a SIGKILLed worker is replaced; the other keeps serving meanwhile."""
    server = start_server("multiprocess", args=["--workers", "2"])
    bystander, victim, spares = wires_on_two_workers(server.port)
    try:
        dead = worker_pid(victim)
        killed_at = time.monotonic()
        psutil.Process(dead).kill()
        start_to_ready = respawn_log_seconds(server, RESPAWN_BOUND)
        total = time.monotonic() - killed_at
        print(
            f"SIGKILL: new worker ready {total:.3f} s after the kill (spawn to ready {start_to_ready:.3f} s)"
        )
        assert total <= RESPAWN_BOUND
        wait_until(lambda: len(workers_without(server, dead)) == 2, RESPAWN_BOUND)
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
        wait_until(lambda: not alive(tree), 5, what="no process left behind")
        log = server.log_text()
        assert "did not start" in log and log.count("RuntimeError: uvloop is broken") == 1
    finally:
        server.kill()


# -- shutdown -----------------------------------------------------------------------------
#: After SIGTERM the idle keep-alive connection is closed, and new connections refused, while
#: this request is still in flight: within 0.001 s of the signal (multiprocess 0.16 to 0.20 s;
#: measured idle, three runs), so its wait is over 5x the slowest.
DRAIN_REQUEST_MS = 2000


def test_sigterm_stops_accepting_at_once_and_drains(model: str, start_server: Start) -> None:
    """SIGTERM: new connections refused and idle keep-alive closed while the request in flight
    is still being served; then it is answered, exit 0, no process left behind."""
    server = start_server(model, args=["--graceful-timeout", "5"])
    tree = server.tree()
    with Wire(server.port) as busy, Wire(server.port) as idle:
        assert idle.request(get("/")).status == 200
        busy.send(get(f"/io?ms={DRAIN_REQUEST_MS}"))
        wait_until(lambda: in_flight(busy.sock), 10, what="the server reading the busy request")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        took, _ = wait_closed(idle.sock, 10)
        assert took is not None, "idle keep-alive connection not closed"
        wait_until(lambda: refused(server.port), 10, what="new connections refused")
        refused_after = time.monotonic() - start
        print(f"{model}: idle closed {took:.3f} s, refusing {refused_after:.3f} s after SIGTERM")
        assert not readable(busy.sock), "the drain finished before the idle close and the refusal"
        response = busy.read_response()
        assert response.status == 200 and response.body == b"waited %d ms\n" % DRAIN_REQUEST_MS
        assert busy.closed_by_peer(5)
    assert server.proc.wait(10) == 0
    wait_until(lambda: not alive(tree), 5, what="no process left behind")


#: From the signal that should end the stop to the exit: 0.03 to 0.11 s after a second SIGTERM,
#: 1.07 to 1.28 s after the first with a 1 s grace period (measured idle). The bound is over
#: 5x those and still well under the 10 s request that must not hold the stop up.
STOP_BOUND = 7.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("graceful_timeout", "signals"), [(30, 2), (1, 1)], ids=["second-signal", "grace-period"]
)
def test_a_long_request_does_not_hold_the_stop_up(
    model: str, start_server: Start, graceful_timeout: int, signals: int
) -> None:
    """A 10 s request in flight: a second SIGTERM ends the grace period at once, and so does
    the end of a short grace period; nothing is left behind either way."""
    server = start_server(model, args=["--graceful-timeout", str(graceful_timeout)])
    tree = server.tree()
    with Wire(server.port) as busy:
        busy.send(get("/io?ms=10000"))
        wait_until(lambda: in_flight(busy.sock), 10, what="the server reading the busy request")
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        if signals == 2:
            wait_until(lambda: refused(server.port), 10, what="the first SIGTERM handled")
            assert server.proc.poll() is None, "did not wait for the request in flight"
            server.proc.send_signal(signal.SIGTERM)
        start = time.monotonic()
        assert server.proc.wait(30) == 0
        took = time.monotonic() - start
        print(f"{model}: exit {took:.3f} s after the last SIGTERM")
        assert took <= STOP_BOUND
        assert busy.closed_by_peer(5)
    wait_until(lambda: not alive(tree), 5, what="no process left behind")
