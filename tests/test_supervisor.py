"""The supervisor shared by prefork, multiprocess and interpreters, and every server's stop line."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest

from servers.launcher import ServerProcess
from servers.registry import MODELS
from tests.helpers import alive, hello_ok, skip_unavailable, wait_until, workers
from tests.test_interpreters import FailingInterpreterServer, needs_interpreters
from tests.wire import Wire, get

REPLACED = [name for name, info in MODELS.items() if info.hung_worker == "replaced"]
SILENT = re.compile(r"worker \d \(pid (\d+)\) silent for [0-9.]+ s \(--worker-timeout 1\)")


@pytest.mark.parametrize("model", REPLACED)
def test_a_worker_that_stops_beating_is_killed_and_replaced(model: str) -> None:
    """A stopped worker (SIGSTOP: it holds its socket but never comes round) is replaced."""
    skip_unavailable(model)
    args = ["--workers", "2", "--worker-timeout", "1"]
    with ServerProcess(model, args=args) as server:
        before = workers(server)
        hung = before[0]
        hung.send_signal(signal.SIGSTOP)
        wait_until(lambda: "respawned as pid" in server.log_text(), 10, what="the respawn")
        found = SILENT.search(server.log_text())
        assert found and int(found.group(1)) == hung.pid, server.log_text()
        assert not alive([hung])
        now = {p.pid for p in workers(server)}
        assert len(now) == 2 and hung.pid not in now and before[1].pid in now
        assert "killed by SIGKILL" in server.log_text()
        for _ in range(4):  # both workers answer: the new one and the one left alone
            assert hello_ok(server.port)


@pytest.mark.parametrize("model", REPLACED)
def test_a_worker_beating_while_idle_and_waiting_is_left_alone(model: str) -> None:
    """Idle for 3 timeouts, a request waiting 2, a keep-alive connection quiet for 2: no worker is
    called hung."""
    skip_unavailable(model)
    args = ["--workers", "1", "--worker-timeout", "1"]
    with ServerProcess(model, args=args) as server:
        pids = {p.pid for p in workers(server)}
        time.sleep(3.0)  # idle: only the accept loop's ticker makes it beat
        with Wire(server.port) as wire:
            assert wire.request(get("/io?ms=2000")).status == 200
            time.sleep(2.0)  # a quiet keep-alive connection, twice the timeout
            assert wire.request(get("/")).status == 200
        assert {p.pid for p in workers(server)} == pids
        assert "silent for" not in server.log_text()


@pytest.mark.parametrize("model", REPLACED)
def test_a_worker_dying_young_again_waits_longer(model: str) -> None:
    """Respawn backoff: 0.1 s after the first death, doubled after a second one soon after."""
    skip_unavailable(model)
    with ServerProcess(model, args=["--workers", "1"]) as server:
        for _ in range(2):
            count = server.log_text().count("respawned as pid")
            workers(server)[0].kill()
            wait_until(lambda n=count: server.log_text().count("respawned as pid") > n, 10)
        delays = re.findall(r"respawning in ([0-9.]+) s", server.log_text())
        assert delays == ["0.1", "0.2"], server.log_text()
        assert hello_ok(server.port)


@needs_interpreters
def test_a_hung_interpreter_stops_the_server(tmp_path: Path) -> None:
    """A thread cannot be killed: the server names the hung worker and exits 1."""
    server = FailingInterpreterServer(tmp_path)
    server.args += ["--worker-timeout", "1"]
    server.start()
    try:
        assert hello_ok(server.port)
        server.hang.touch()
        assert server.proc is not None and server.proc.wait(15) == 1
        log = server.log_text()
        assert re.search(r"worker \d silent for [0-9.]+ s \(--worker-timeout 1\)", log), log
        assert "cannot be killed: exiting" in log
    finally:
        server.kill()


def test_every_server_says_once_what_it_drained(model: str) -> None:
    """Ctrl-C: one 'stopped: drained N connections' line, counting the idle keep-alive one."""
    with ServerProcess(model, args=["--graceful-timeout", "2"]) as server:
        with Wire(server.port) as wire:
            assert wire.request(get("/")).status == 200
            assert server.proc is not None
            server.proc.send_signal(signal.SIGINT)
            assert wire.closed_by_peer(5)  # then the client closes too: no lingering left
        assert server.proc.wait(10) == 0
        lines = [line for line in server.log_text().splitlines() if "stopped:" in line]
        assert len(lines) == 1, server.log_text()
        assert re.fullmatch(r"stopped: drained 1 connection in [0-9.]+ s", lines[0]), lines
