"""The asyncio driver (asyncio, uvloop, multiprocess workers): waits that keep reading."""

from __future__ import annotations

import json
import select
import socket
import struct
import time

import pytest

from servers.launcher import ServerProcess
from tests.test_robustness_util import hello_ok
from tests.wire import Wire, get

ASYNC_MODELS = ["asyncio", "uvloop", "multiprocess", "reactor", "generators"]


@pytest.mark.parametrize("model", ASYNC_MODELS)
def test_a_client_resetting_during_a_wait_is_noticed(model: str) -> None:
    with ServerProcess(model) as server:
        client = socket.create_connection(("127.0.0.1", server.port))
        client.sendall(get("/io?ms=5000"))
        time.sleep(0.3)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # RST while the server waits
        time.sleep(0.3)
        with Wire(server.port) as w:
            doc = json.loads(w.request(get("/stats")).body)
    assert doc["connections_open"] == 1  # only the connection asking


@pytest.mark.parametrize("model", ASYNC_MODELS)
def test_a_long_pipeline_of_waits_is_answered_in_order(model: str) -> None:
    """More pipelined requests than the driver queues behind a Wait: reading pauses, nothing is lost."""
    count = 300
    with ServerProcess(model) as server, Wire(server.port, timeout=30) as w:
        w.send(b"".join(get(f"/io?ms={i % 3}") for i in range(count)))
        bodies = [w.read_response().body for _ in range(count)]
    assert bodies == [b"waited %d ms\n" % (i % 3) for i in range(count)]


@pytest.mark.parametrize("model", ASYNC_MODELS)
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
