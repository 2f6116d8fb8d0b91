"""What every event-loop model promises beyond the conformance suite, each as a real server.

A model that serves many connections in one thread as events arrive (the
registry's ``event_loop`` models) keeps reading a connection while its request
waits, so a client that resets is noticed at once; it holds pipelined requests
back in order behind a wait; and it stops reading a client that reads none of
its responses (back-pressure), instead of buffering them without bound.
"""

from __future__ import annotations

import json
import select
import socket
import struct
import time

import pytest

from servers.launcher import ServerProcess
from servers.registry import MODELS, runnable_model_names
from tests.helpers import hello_ok, wait_until
from tests.wire import Wire, get

LOOP_MODELS = [name for name in runnable_model_names() if MODELS[name].event_loop]


def _stats(port: int) -> dict:
    with Wire(port) as wire:
        return json.loads(wire.request(get("/stats")).body)


@pytest.mark.parametrize("model", LOOP_MODELS)
def test_a_client_resetting_during_a_wait_is_noticed(model: str) -> None:
    """Noticed at once (idle: within a loop turn), not when the 10 s wait ends: the bound is 5 s."""
    with ServerProcess(
        model, args=["--workers", "1"] if "--workers" in MODELS[model].flags else []
    ) as server:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(get("/io?ms=10000"))
        wait_until(lambda: _stats(server.port)["connections_open"] == 2, 10, what="the wait begun")
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST while the server waits
        start = time.monotonic()
        wait_until(
            lambda: _stats(server.port)["connections_open"] == 1, 5, what="the reset noticed"
        )
        print(f"{model}: reset noticed after {time.monotonic() - start:.3f} s")


@pytest.mark.parametrize("model", LOOP_MODELS)
def test_a_long_pipeline_of_waits_is_answered_in_order(model: str) -> None:
    """More pipelined requests than a driver queues behind a Wait: reading pauses, nothing is lost."""
    count = 300
    with ServerProcess(model) as server, Wire(server.port, timeout=30) as w:
        w.send(b"".join(get(f"/io?ms={i % 3}") for i in range(count)))
        bodies = [w.read_response().body for _ in range(count)]
    assert bodies == [b"waited %d ms\n" % (i % 3) for i in range(count)]


@pytest.mark.parametrize("model", LOOP_MODELS)
def test_a_client_that_reads_no_responses_is_not_read_either(model: str) -> None:
    """Back-pressure: once its responses pile up, the server stops reading the client.

    The client pipelines 64 KiB echoes and reads nothing. A server that kept
    reading would keep buffering responses (here, up to 256 MiB of them);
    one with back-pressure leaves the requests in the kernel's buffers, so the
    client soon cannot send any more.
    """
    body = b"x" * 65536
    request = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    limit = 256 * 1024 * 1024
    with ServerProcess(model) as server:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.setblocking(False)
        sent = 0
        try:
            while sent < limit:
                try:
                    sent += client.send(request[sent % len(request) :])
                except BlockingIOError:
                    _, writable, _ = select.select([], [client], [], 1.0)
                    if not writable:
                        break  # no progress for a second: the server stopped reading
            assert hello_ok(server.port), "another client was not served meanwhile"
        finally:
            client.close()
    assert sent < limit // 4, f"{sent} bytes sent and no back-pressure"
