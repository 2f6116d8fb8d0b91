"""threadpool: the pool's size, the bounded queue behind it, and what the drain does with the queue."""

from __future__ import annotations

import json
import signal
import socket

import psutil

from servers.launcher import ServerProcess
from tests.helpers import wait_closed, wait_until
from tests.wire import Wire, get


def stats(port: int) -> dict:
    with Wire(port) as wire:
        return json.loads(wire.request(get("/stats")).body)


def test_pool_size_is_the_threads_flag_within_the_cap() -> None:
    with ServerProcess("threadpool", args=["--threads", "5"]) as server:
        doc = stats(server.port)
        assert doc["workers"] == 5 and doc["threads"] == 2 + 5  # acceptor, releaser, the pool
    with ServerProcess("threadpool", args=["--threads", "8", "--max-connections", "2"]) as server:
        assert stats(server.port)["workers"] == 2  # more threads could never be busy


def test_beyond_the_pool_a_connection_queues_then_beyond_the_cap_503() -> None:
    """One thread, a cap of 3: one served, two queued (counted open), the fourth refused."""
    with ServerProcess("threadpool", args=["--threads", "1", "--max-connections", "3"]) as server:
        served, queued = Wire(server.port), [Wire(server.port), Wire(server.port)]
        try:
            assert served.request(get("/")).status == 200
            for wire in queued:
                wire.send(get("/"))
            with Wire(server.port) as refused:
                response = refused.request(get("/"))
                assert response.status == 503 and response.closes
            served.close()  # the thread moves on to the queue, in order
            for wire in queued:
                assert wire.read_response().status == 200
                wire.close()  # a keep-alive connection holds the thread until it closes
        finally:
            served.close()
            for wire in queued:
                wire.close()


def test_drain_answers_what_the_queue_asked_and_closes_what_it_did_not() -> None:
    """SIGTERM with one thread busy: the listener closes at once; the request in service is
    answered; a queued request is answered (Connection: close); a queued silent one is closed."""
    server = ServerProcess("threadpool", args=["--threads", "1", "--graceful-timeout", "10"])
    with server:
        busy, asked, silent = Wire(server.port), Wire(server.port), Wire(server.port)
        try:
            busy.send(get("/io?ms=1500"))
            asked.send(get("/"))
            wait_until(lambda: _open_connections_seen_by(server) >= 3, 5)
            assert server.proc is not None
            server.proc.send_signal(signal.SIGTERM)
            wait_until(lambda: _refused(server.port), 1.0)
            first = busy.read_response()
            assert first.status == 200 and first.body == b"waited 1500 ms\n"
            busy.close()
            answer = asked.read_response()
            assert answer.status == 200 and answer.closes and asked.closed_by_peer(3)
            asked.close()
            took, data = wait_closed(silent.sock, 5)
            assert took is not None and data == b""
            assert server.proc.wait(10) == 0
        finally:
            for wire in (busy, asked, silent):
                wire.close()


def _open_connections_seen_by(server: ServerProcess) -> int:
    """Connections the server has accepted (in service or queued): its established sockets."""
    return sum(
        1
        for conn in psutil.Process(server.pid).net_connections(kind="tcp")
        if conn.status == psutil.CONN_ESTABLISHED
    )


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return True
    return False
