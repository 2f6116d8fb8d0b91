"""What the curves ask of the servers: ``GET /hash``, ``serve --switch-interval``, a lean fork parent."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import urllib.request

import pytest

from servers.cli import switch_interval_ms
from servers.launcher import ServerProcess
from servers.protocol import Compute, ServerConfig
from servers.protocol.config import HASH_KB_MAX
from servers.protocol.connection import HttpConnection, make_connection_factory


class Stats:
    def request_done(self) -> None:
        pass

    def snapshot(self) -> dict[str, object]:
        return {}


def connection() -> HttpConnection:
    conn = make_connection_factory(ServerConfig(), Stats())()
    assert isinstance(conn, HttpConnection)
    return conn


def status_and_body(response: bytes) -> tuple[int, bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("kb", [0, 1, 3, 2048])
def test_hash_is_sha256_of_zero_kib(kb: int) -> None:
    [compute] = connection().receive_data(b"GET /hash?kb=%d HTTP/1.1\r\nHost: h\r\n\r\n" % kb)
    assert isinstance(compute, Compute) and compute.n == kb
    status, body = status_and_body(compute.run())
    assert status == 200
    assert body == b"%d %s\n" % (kb, hashlib.sha256(bytes(kb * 1024)).hexdigest().encode())


@pytest.mark.parametrize(
    "query", [b"kb=-1", b"kb=x", b"kb=1.5", b"kb=1&kb=2", b"kb=%d" % (HASH_KB_MAX + 1)]
)
def test_hash_rejects_bad_sizes(query: bytes) -> None:
    response = connection().receive_data(b"GET /hash?" + query + b" HTTP/1.1\r\nHost: h\r\n\r\n")[0]
    assert isinstance(response, bytes) and status_and_body(response)[0] == 400


def test_switch_interval_values() -> None:
    assert switch_interval_ms("0.5") == 0.5 and switch_interval_ms("1000") == 1000
    for bad in ("0", "-1", "1001", "fast"):
        with pytest.raises(Exception, match="milliseconds"):
            switch_interval_ms(bad)


def test_a_bad_switch_interval_is_one_line_and_exit_2() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "iomodels", "serve", "--switch-interval", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "--switch-interval: 0 is out of range" in out.stderr.splitlines()[-1]


def test_a_thread_server_with_a_switch_interval_serves_hash() -> None:
    with ServerProcess("thread", args=["--switch-interval", "0.5"]) as server:
        with urllib.request.urlopen(f"{server.url}/hash?kb=3", timeout=10) as resp:
            assert resp.read() == b"3 %s\n" % hashlib.sha256(bytes(3072)).hexdigest().encode()


def test_the_fork_parent_loads_neither_psutil_nor_multiprocessing() -> None:
    """What a fork costs grows with the parent: the fork server imports only what serving needs."""
    server = ServerProcess("fork", env={"PYTHONPROFILEIMPORTTIME": "1"}).start()
    try:
        with urllib.request.urlopen(f"{server.url}/", timeout=10) as resp:
            assert resp.status == 200
    finally:
        server.stop()
    imported = {
        line.rsplit("|", 1)[1].strip()
        for line in server.log_text().splitlines()
        if line.startswith("import time:") and line.count("|") == 2
    }
    assert "servers.models._blocking" in imported  # the log was read (the driver imports it)
    assert not {"psutil", "multiprocessing", "subprocess"} & imported
