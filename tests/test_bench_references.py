"""The reference servers start like the models, answer the bench's requests, and the CLI writes its files."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from clients.bench import cli as bench_cli
from clients.bench.placement import available_cpus
from clients.bench.targets import REFERENCES, TargetProcess, sizing_args
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


#: References that close the connection after each response (gunicorn's sync workers).
NO_KEEP_ALIVE = {"ref-gunicorn-sync"}


@pytest.mark.parametrize("name", HTTP_REFS)
def test_http_reference_says_hello(name: str) -> None:
    with TargetProcess(REFERENCES[name], "http", cpus=available_cpus()) as server:
        request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
        count = 1 if name in NO_KEEP_ALIVE else 2
        answer = _exchange(server.port, request * 2, lambda d: d.count(b"Hello, World!") >= count)
        assert answer.startswith(b"HTTP/1.1 200") and answer.count(b"Hello, World!") == count


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
    with pytest.raises(SystemExit) as refused:  # refused by the parser, before anything runs
        parse_args(["bench", "--models", "nosuch", "--out", str(tmp_path)])
    assert refused.value.code == 2
    assert list(tmp_path.iterdir()) == []


PRODUCTION = ["ref-gunicorn-sync", "ref-gunicorn-gthread", "ref-gunicorn-gevent", "ref-uvicorn"]


def _get(port: int, target: str) -> bytes:
    request = b"GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % target.encode()
    return _exchange(port, request, lambda d: False)


@pytest.mark.parametrize("name", PRODUCTION)
def test_production_reference_serves_the_routes_and_overlaps_waits(name: str) -> None:
    """gunicorn's workers and uvicorn answer the bench's routes; waits overlap up to the pool."""
    target = REFERENCES[name]
    reason = target.unavailable()
    if reason is not None:
        pytest.skip(f"{name}: {reason}")
    waits = 5
    args = sizing_args(target, range(waits))  # sync: one worker per wait
    with TargetProcess(target, "http", args, cpus=available_cpus()) as server:
        assert _get(server.port, "/").endswith(b"Hello, World!")
        assert _get(server.port, "/cpu?n=100").endswith(b"100 2441939492\n")
        with ThreadPoolExecutor(waits) as pool:
            start = time.monotonic()
            answers = list(pool.map(lambda _: _get(server.port, "/io?ms=500"), range(waits)))
            elapsed = time.monotonic() - start
        assert all(a.endswith(b"waited 500 ms\n") for a in answers)
        assert elapsed < waits * 0.5, f"{waits} waits took {elapsed:.2f} s: one after another"
        processes = len(psutil.Process(server.pid).children()) + 1
        assert processes == (1 + waits if args else 2 if name.startswith("ref-gunicorn") else 1)


@pytest.mark.parametrize(
    "named", [[], ["rate-sweep", "rate-sweep-hello"], ["rate-sweep-io-wait", "rate-sweep"]]
)
def test_a_group_named_beside_its_members_runs_each_once(named: list[str]) -> None:
    """The default names every workload and the groups too: each workload is planned once."""
    args = parse_args(["bench", *(["--workloads", *named] if named else [])])
    opts, _ = bench_cli.options_from_args(args)
    names = [w.name for w in opts.workloads]
    assert len(names) == len(set(names))
    assert {"rate-sweep-hello", "rate-sweep-io-wait"} <= set(names)
