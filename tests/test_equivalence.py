"""Every model answers the same bytes with the same bytes, however they are split.

The project's promise is that the servers are truly equivalent. A random
session (pipelined requests to every route, Content-Length and chunked
bodies, HTTP/1.0, ``GET /db`` reading one redis-server shared by every model, ending with a
request that closes or a bad one) is sent to
every registered model that can run here, cut at the same random points with
the same short pauses; the response streams, read to EOF, must be identical
byte for byte (the ``Date`` header aside). A reset instead of EOF fails the session: it is
how a server destroys its last response when it closes carelessly.

Left out on purpose: ``/stats`` (its figures describe each model) and
``Expect: 100-continue`` (whether the interim response is sent depends on
whether the body arrived with the head, which the split decides).
"""

from __future__ import annotations

import contextlib
import random
import re
import shutil
import socket
import time
from collections.abc import Iterator

import pytest

from common.redis_server import RedisServer
from servers.launcher import ServerProcess
from servers.registry import runnable_model_names

SITE_PAGES = 40
_DATE = re.compile(rb"\r\nDate: [^\r]*\r\n")
FAST_SESSIONS = 40
SLOW_SESSIONS = 1000


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, ServerProcess]]:
    """Every model, reading one redis-server (without redis-server, /db answers 503 in each)."""
    started: dict[str, ServerProcess] = {}
    with contextlib.ExitStack() as stack:
        args = ["--site-pages", str(SITE_PAGES)]
        if shutil.which("redis-server"):
            args += ["--upstream", stack.enter_context(RedisServer()).url]
        try:
            for model in runnable_model_names():
                started[model] = ServerProcess(model, args=args).start()
            yield started
        finally:
            for server in started.values():
                server.stop(timeout=5)


def _request(rng: random.Random, http10: bool = False, close: bool = False) -> bytes:
    """One well-formed request to a random route."""
    version = b"HTTP/1.0" if http10 else b"HTTP/1.1"
    headers = b"" if http10 else b"Host: example\r\n"
    if close:
        headers += b"Connection: close\r\n"
    elif http10 and rng.random() < 0.5:
        headers += b"Connection: keep-alive\r\n"
    kind = rng.choice(
        ["hello", "head", "echo", "chunked", "io", "cpu", "site", "db", "missing", "method"]
    )
    if kind == "chunked" and http10:
        kind = "echo"
    if kind == "hello":
        return b"GET / %s\r\n%s\r\n" % (version, headers)
    if kind == "head":
        return b"HEAD /%s %s\r\n%s\r\n" % (
            rng.choice([b"", b"io?ms=1", b"site/3", b"db?n=2"]),
            version,
            headers,
        )
    if kind == "echo":
        body = rng.randbytes(rng.choice([0, 1, 7, 300, 5000]))
        return b"POST /echo %s\r\n%sContent-Length: %d\r\n\r\n%s" % (
            version,
            headers,
            len(body),
            body,
        )
    if kind == "chunked":
        chunks = [rng.randbytes(rng.randint(1, 300)) for _ in range(rng.randint(0, 4))]
        ext = rng.choice([b"", b";name=value", b';q="quoted"'])
        body = b"".join(b"%x%s\r\n%s\r\n" % (len(c), ext, c) for c in chunks) + b"0\r\n\r\n"
        return b"POST /echo %s\r\n%sTransfer-Encoding: chunked\r\n\r\n%s" % (version, headers, body)
    if kind == "io":
        return b"GET /io?ms=%d %s\r\n%s\r\n" % (rng.randint(0, 5), version, headers)
    if kind == "cpu":
        return b"GET /cpu?n=%d %s\r\n%s\r\n" % (rng.randint(0, 2000), version, headers)
    if kind == "db":
        query = b"n=%d&key=%d" % (rng.randint(1, 4), rng.randrange(1000))
        return b"GET /db?%s %s\r\n%s\r\n" % (query, version, headers)
    if kind == "site":
        path = rng.choice(
            [b"/site/", b"/site/%d" % rng.randrange(SITE_PAGES), b"/site/r/2", b"/site/files/1.bin"]
        )
        return b"GET %s %s\r\n%s\r\n" % (path, version, headers)
    if kind == "missing":
        return b"GET /no/such/route %s\r\n%s\r\n" % (version, headers)
    # a method the server knows that the route does not allow: 405, and the connection stays
    return b"POST / %s\r\n%sContent-Length: 0\r\n\r\n" % (version, headers)


_BAD = [
    b"GET / HTTP/1.1\r\nHost: example\r\nBad Header\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: example\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    b"GET /cpu?n=x HTTP/1.1\r\nHost: example\r\n\r\n",
    b"GET /db?n=0 HTTP/1.1\r\nHost: example\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"GET / HTTP/2.0\r\nHost: example\r\n\r\n",
    b"DELETE / HTTP/1.1\r\nHost: example\r\n\r\n",  # a method nothing here implements: 501
]


def session(seed: int) -> tuple[bytes, list[tuple[int, float]]]:
    """A random session's bytes, and where to cut them (offset, pause in seconds)."""
    rng = random.Random(seed)
    requests = [_request(rng, http10=rng.random() < 0.15) for _ in range(rng.randint(1, 8))]
    ending = rng.random()
    if ending < 0.4:
        requests.append(rng.choice(_BAD))
    elif ending < 0.7:
        requests.append(_request(rng, http10=True))  # HTTP/1.0 without keep-alive may close
    requests.append(_request(rng, close=True))  # whatever came before, this one closes
    data = b"".join(requests)
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 6))))
    return data, [(cut, rng.choice([0.0, 0.0, 0.001, 0.003])) for cut in cuts]


def exchange(port: int, data: bytes, cuts: list[tuple[int, float]]) -> bytes:
    """Send ``data`` cut at ``cuts`` (pausing after each piece), read the answer to EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        start = 0
        try:
            for cut, pause in [*cuts, (len(data), 0.0)]:
                sock.sendall(data[start:cut])
                start = cut
                if pause:
                    time.sleep(pause)  # the split under test: the server sees the bytes in pieces
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before the rest is sent; what it answered is what counts
        stream = b""
        try:
            while chunk := sock.recv(65536):
                stream += chunk
        except ConnectionResetError:
            stream += b"\n<connection reset>"
    return _DATE.sub(b"\r\nDate: -\r\n", stream)


def check_sessions(servers: dict[str, ServerProcess], seeds: range) -> None:
    for seed in seeds:
        data, cuts = session(seed)
        answers = {model: exchange(server.port, data, cuts) for model, server in servers.items()}
        reference_model, reference = next(iter(answers.items()))
        assert reference.startswith(b"HTTP/1.1 ") and b"<connection reset>" not in reference, (
            f"session {seed}: {reference_model} answered {reference[-300:]!r}"
        )
        differ = {model: answer for model, answer in answers.items() if answer != reference}
        assert not differ, (
            f"session {seed} ({len(data)} bytes, cuts {cuts}): {sorted(differ)} differ from "
            f"{reference_model}; first difference: {_first_difference(reference, next(iter(differ.values())))}"
        )


def _first_difference(a: bytes, b: bytes) -> str:
    at = next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )
    return f"at byte {at}: {a[max(0, at - 60) : at + 60]!r} vs {b[max(0, at - 60) : at + 60]!r}"


def test_every_model_answers_a_session_identically(servers: dict[str, ServerProcess]) -> None:
    check_sessions(servers, range(FAST_SESSIONS))


@pytest.mark.slow
@pytest.mark.timeout(900)  # 1,000 sessions on every model: 143 s idle with twelve models
def test_every_model_answers_many_sessions_identically(servers: dict[str, ServerProcess]) -> None:
    check_sessions(servers, range(FAST_SESSIONS, FAST_SESSIONS + SLOW_SESSIONS))
