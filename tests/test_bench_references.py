"""The reference servers start like the models, answer the bench's requests, and the CLI writes its files."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from clients.bench import cli as bench_cli
from clients.bench.placement import available_cpus
from clients.bench.targets import REFERENCES, TargetProcess
from iomodels.cli import parse_args

HTTP_REFS = [
    name for name, t in REFERENCES.items() if "http" in t.protocols and t.unavailable() is None
]
ECHO_REFS = [name for name, t in REFERENCES.items() if "echo" in t.protocols]


def _exchange(port: int, payload: bytes, done: Callable[[bytes], bool]) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        data = b""
        while not done(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.parametrize("name", HTTP_REFS)
def test_http_reference_says_hello(name: str) -> None:
    with TargetProcess(REFERENCES[name], "http", cpus=available_cpus()) as server:
        request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        answer = _exchange(server.port, request * 2, lambda d: d.count(b"Hello, World!") >= 2)
        assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"Hello, World!") == 2


@pytest.mark.parametrize("name", ECHO_REFS)
def test_echo_reference_echoes(name: str) -> None:
    payload = bytes(range(256)) * 400
    with TargetProcess(REFERENCES[name], "echo", cpus=available_cpus()) as server:
        assert _exchange(server.port, payload, lambda d: len(d) >= len(payload)) == payload


def test_bench_cli_writes_its_files(tmp_path: Path) -> None:
    args = parse_args(
        [
            "bench",
            "--models",
            "uvloop",
            "--workloads",
            "hello",
            "--duration",
            "0.3",
            "--warmup",
            "0.1",
            "--no-references",
            "--no-wrk",
            "--no-charts",
            "--out",
            str(tmp_path),
        ]
    )
    assert bench_cli.run(args) == 0
    (out,) = tmp_path.iterdir()
    doc = json.loads((out / "results.json").read_text())
    assert [r["model"] for r in doc["runs"]] == ["uvloop"]
    assert doc["machine"]["cpu_count"] and doc["machine"]["cpu_n"] > 0
    assert (out / "report.md").read_text().startswith("# iomodels benchmark")
    assert (out / "results.csv").exists()


def test_bench_cli_rejects_unknown_names(tmp_path: Path) -> None:
    args = parse_args(["bench", "--models", "nosuch", "--out", str(tmp_path)])
    assert bench_cli.run(args) == 2
