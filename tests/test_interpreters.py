"""The interpreters model: subinterpreters sharing one process, its counters and its faults.

The cross-model suites cover what every model promises; here is what only this
one has: a worker is an interpreter, not a process, so ``/stats`` must add up
counters across interpreters, the figures come from ``/proc`` (psutil cannot
load in a subinterpreter), and a worker that fails is replaced in place.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psutil
import pytest

from servers.launcher import ServerProcess, ServerStartError
from servers.models._interpreter_worker import process_usage
from servers.registry import unavailable
from tests.helpers import hello_ok, wait_until
from tests.wire import Wire, get

REASON = unavailable("interpreters")
needs_interpreters = pytest.mark.skipif(REASON is not None, reason=f"interpreters: {REASON}")


class FailingInterpreterServer(ServerProcess):
    """The interpreters model with worker interpreters that fail on cue (tests/failing_interpreter.py)."""

    def __init__(self, tmp_path: Path, workers: int = 2) -> None:
        self.trigger = tmp_path / "fail-now"
        self.broken = tmp_path / "broken"
        self.hang = tmp_path / "hang-now"
        env = {
            "IOMODELS_TEST_TRIGGER": str(self.trigger),
            "IOMODELS_TEST_BROKEN": str(self.broken),
            "IOMODELS_TEST_HANG": str(self.hang),
        }
        args = ["--workers", str(workers), "--graceful-timeout", "1"]
        super().__init__("interpreters", args=args, env=env)

    def command(self) -> list[str]:
        python, dash_m, module, *args = super().command()
        assert (dash_m, module) == ("-m", "iomodels")
        return [python, "-m", "tests.failing_interpreter", *args]


def worker_threads_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of ``pid`` but its main thread (the worker interpreters' threads)."""
    return {
        thread.id: thread.user_time + thread.system_time
        for thread in psutil.Process(pid).threads()
        if thread.id != pid
    }


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# -- on every Python ----------------------------------------------------------------------
def test_process_figures_from_proc_match_psutil() -> None:
    """What a worker reads from /proc is what psutil reports (the server's own process)."""
    mine = process_usage()
    proc = psutil.Process()
    with proc.oneshot():
        times, memory = proc.cpu_times(), proc.memory_full_info()
        threads = proc.num_threads()
    assert mine["processes"] == 1 and mine["threads"] == threads
    assert abs(mine["rss_bytes"] - memory.rss) <= 0.1 * memory.rss
    assert abs(mine["pss_bytes"] - memory.pss) <= 0.1 * memory.pss
    cpu = times.user + times.system + times.children_user + times.children_system
    assert cpu - 0.05 <= mine["cpu_s"] <= cpu + 0.5  # the reading itself takes a little


@pytest.mark.skipif(REASON is None, reason="this Python runs the interpreters model")
def test_older_python_says_why_in_one_line() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "iomodels", "serve", "--model", "interpreters", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1, out.stderr
    assert "needs Python 3.13 or newer: per-interpreter GIL" in out.stderr


# -- on Python 3.13 and newer -------------------------------------------------------------
@needs_interpreters
def test_every_interpreter_reports_the_counts_of_all(start_server) -> None:
    """/stats adds up every interpreter's counters, whichever interpreter answers."""
    server = start_server("interpreters", args=["--workers", "2"])
    wires = [Wire(server.port) for _ in range(4)]
    try:
        for wire in wires:
            assert wire.request(get("/")).status == 200
        documents = [json.loads(wire.request(get("/stats")).body) for wire in wires]
        for stats in documents:
            assert stats["model"] == "interpreters" and stats["workers"] == 2
            assert stats["connections_open"] == 4, stats
            assert stats["pid"] == stats["root_pid"] == server.pid
            assert stats["processes"] == 1 and stats["threads"] >= 3  # main + 2 workers
        assert documents[-1]["requests_total"] >= 8 - 1  # all but the one being answered
    finally:
        for wire in wires:
            wire.close()


@needs_interpreters
def test_two_busy_connections_are_computed_by_two_interpreters(start_server) -> None:
    """Two connections asking for CPU at once land on different worker threads (interpreters)."""
    server = start_server("interpreters", args=["--workers", "2"])
    before = worker_threads_cpu(server.pid)
    assert len(before) == 2

    def compute() -> None:
        with Wire(server.port, timeout=30) as wire:
            for _ in range(3):
                assert wire.request(get("/cpu?n=1000000")).status == 200

    clients = [threading.Thread(target=compute) for _ in range(2)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(60)
    after = worker_threads_cpu(server.pid)
    spent = {tid: after[tid] - before[tid] for tid in before}
    assert min(spent.values()) >= 0.25 * max(spent.values()), spent


@needs_interpreters
def test_a_failed_interpreter_is_replaced_and_only_its_connections_are_lost(
    tmp_path: Path,
) -> None:
    server = FailingInterpreterServer(tmp_path).start()
    try:
        baseline = open_fds(server.pid)
        wires = [Wire(server.port) for _ in range(4)]
        for wire in wires:
            assert wire.request(get("/")).status == 200
        server.trigger.touch()
        wait_until(lambda: "respawned as" in server.log_text(), 10)
        log = server.log_text()
        assert "worker 0 failed" in log or "worker 1 failed" in log
        assert log.count("BugEscaped: a bug escaped the loop (test double)") == 1
        lost = [wire for wire in wires if wire.closed_by_peer(0.5)]
        kept = [wire for wire in wires if wire not in lost]
        assert lost and kept, "the failed interpreter held none of the connections, or all"
        for wire in kept:
            assert wire.request(get("/")).status == 200
        stats = json.loads(kept[0].request(get("/stats")).body)
        assert stats["connections_open"] == len(kept), stats  # the lost ones were reset
        assert hello_ok(server.port)
        for wire in wires:
            wire.close()
        wait_until(lambda: open_fds(server.pid) == baseline, 5)  # nothing of it is left open
        assert server.stop() == 0
    finally:
        server.kill()


@needs_interpreters
def test_an_interpreter_failing_at_startup_stops_the_server(tmp_path: Path) -> None:
    """A worker that cannot start: a clear error and exit 1, tried once, not in a loop."""
    server = FailingInterpreterServer(tmp_path)
    server.broken.touch()
    with pytest.raises(ServerStartError) as failed:
        server.start()
    assert server.proc is not None and server.proc.returncode == 1
    message = str(failed.value)
    assert "iomodels: error: worker 0 did not start" in message
    assert message.count("RuntimeError: this worker cannot start (test double)") == 2  # trace, line


@needs_interpreters
def test_an_interpreter_failing_on_restart_stops_the_server(tmp_path: Path) -> None:
    """A worker that fails and then cannot be restarted: the server stops, exit 1."""
    server = FailingInterpreterServer(tmp_path).start()
    try:
        assert hello_ok(server.port)
        server.broken.touch()
        server.trigger.touch()
        assert server.proc is not None and server.proc.wait(15) == 1
        log = server.log_text()
        assert "BugEscaped" in log and "did not start" in log
        assert log.count("RuntimeError: this worker cannot start (test double)") == 2
    finally:
        server.kill()


@needs_interpreters
@pytest.mark.slow
def test_an_interpreter_that_never_stops_does_not_keep_the_process(tmp_path: Path) -> None:
    """A worker stuck in a callback: after the grace period and the second stop, exit 1 anyway."""
    server = FailingInterpreterServer(tmp_path).start()
    try:
        server.hang.touch()
        wait_until(lambda: not server.hang.exists(), 5)
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        assert server.proc.wait(30) == 1
        assert "does not stop; exiting without it" in server.log_text()
    finally:
        server.kill()
