"""The bad-request corpus (tests/corpus/bad_requests), in the core and against every model.

Each case must get exactly its expected status. A case that leaves the stream
in doubt gets ``Connection: close`` and the connection closes; a
``connection: keep-alive`` case (a well-formed request refused) leaves the
connection open and serving. Either way the server goes on serving others.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator

import pytest

from servers.launcher import ServerProcess
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.registry import model_names
from servers.stats import LocalStats
from tests.corpus import Case, load_cases
from tests.helpers import skip_unavailable
from tests.wire import Wire, get

CASES = load_cases()
CATEGORIES = {
    "framing_smuggling",
    "request_line_target",
    "header_names_values",
    "size_limits",
    "chunk_framing",
    "methods_versions",
}


def test_corpus_shape() -> None:
    """At least 80 cases, every category present and non-trivial, unique names."""
    assert len(CASES) >= 80
    per_category = Counter(case.category for case in CASES)
    assert set(per_category) == CATEGORIES
    assert min(per_category.values()) >= 10
    assert len({case.id for case in CASES}) == len(CASES)
    assert all(400 <= case.expect < 600 for case in CASES)
    # only the refusal of a well-formed request read to its end keeps the connection
    assert {case.expect for case in CASES if case.keep_alive} <= {400, 404, 405}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_core_answers_expected_status(case: Case) -> None:
    """The protocol core alone (no socket): the expected status, closing or not as the case says."""
    conn = make_connection_factory(ServerConfig(), LocalStats("core"))()
    actions = conn.receive_data(case.payload)
    if case.eof and not conn.closed:
        actions += conn.receive_data(b"")
    responses = [a for a in actions if isinstance(a, bytes)]
    assert len(responses) == 1, responses
    assert responses[0].startswith(b"HTTP/1.1 %d " % case.expect), responses[0][:200]
    head = responses[0].partition(b"\r\n\r\n")[0] + b"\r\n"
    closes = b"\r\nconnection: close\r\n" in head.lower()
    assert conn.closed == closes == (not case.keep_alive)
    if case.keep_alive:
        [next_response] = conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert isinstance(next_response, bytes) and next_response.startswith(b"HTTP/1.1 200 ")


def replay(port: int, case: Case, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send one case on a fresh connection; return (status, response head) once the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(case.payload)
            if case.eof:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed: its answer is still to be read
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            if not data:
                raise
    head = data.partition(b"\r\n\r\n")[0]
    assert head.startswith(b"HTTP/1.1 "), data[:200]
    return int(head[9:12]), head


@pytest.fixture(scope="module", params=model_names())
def corpus_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """One server per model for the whole corpus."""
    skip_unavailable(request.param)
    with ServerProcess(request.param) as server:
        yield server


def replay_keep_alive(port: int, case: Case) -> None:
    """Send one keep-alive case, then a normal request on the same connection."""
    with Wire(port) as wire:
        wire.send(case.payload)
        response = wire.read_response(head_only=case.payload.startswith(b"HEAD "))
        assert response.status == case.expect, f"{case.why}: got {response}"
        assert not response.closes
        assert wire.request(get("/")).status == 200


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_model_answers_expected_status(corpus_server: ServerProcess, case: Case) -> None:
    """Every model: the expected status, closing or not as the case says, and still serving."""
    if case.keep_alive:
        replay_keep_alive(corpus_server.port, case)
    else:
        status, head = replay(corpus_server.port, case)
        assert status == case.expect, f"{case.why}: got {head[:200]!r}"
        assert b"\r\nconnection: close" in head.lower()
    with Wire(corpus_server.port) as wire:
        assert wire.request(get("/")).status == 200
