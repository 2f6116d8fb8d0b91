"""threadloops: N threads of event loops in one process, on one socket; and its bench targets."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from clients.bench.targets import FREE_THREADED, TargetProcess
from servers.launcher import ServerProcess
from tests.wire import Wire, get


def stats(port: int) -> dict:
    with Wire(port) as wire:
        return json.loads(wire.request(get("/stats")).body)


def test_one_loop_thread_per_worker_in_one_process() -> None:
    with ServerProcess("threadloops", args=["--workers", "3"]) as server:
        doc = stats(server.port)
        assert doc["workers"] == 3 and doc["processes"] == 1
        assert doc["threads"] == 1 + 3  # the main thread (signals) and the loops


def test_connections_beyond_one_loop_are_served_by_all() -> None:
    """Connections held open at once each get answers: every loop accepts on the one socket."""
    with ServerProcess("threadloops", args=["--workers", "2"]) as server:
        wires = [Wire(server.port) for _ in range(6)]
        try:
            for wire in wires:
                assert wire.request(get("/")).status == 200
            assert stats(server.port)["connections_open"] == 6 + 1
        finally:
            for wire in wires:
                wire.close()


@pytest.mark.parametrize("build, make", [("ft", "python-ft"), ("gil", "python-gil")])
def test_the_twin_bench_targets_run_the_model_on_the_other_python(build: str, make: str) -> None:
    """``<model>-ft`` runs on the free-threaded virtualenv, ``<model>-gil`` on the one of the
    same version built with the GIL (``.venv-3.13.5t`` and ``.venv-3.13.5``)."""
    target = FREE_THREADED[f"threadloops-{build}"]
    assert target.model == "threadloops"
    if target.unavailable() is None:
        process = TargetProcess(target, "http", cpus=[0])
        command = process.command()
        os.unlink(process._log.name)
        assert command[0] == target.python and "threadloops" in command
        venv = Path(target.python).parents[1].name
        assert venv.endswith("t") == (build == "ft")
    else:
        assert f"make venv PYTHON=$(make -s {make})" in (target.unavailable() or "")


def test_a_twin_target_runs_where_its_model_does_with_its_parameters() -> None:
    """cpu-sweep names multiprocess: multiprocess-ft joins it, one --workers per point."""
    from clients.bench import cli as bench_cli
    from clients.bench.harness import build_jobs
    from iomodels.cli import parse_args

    args = ["bench", "--models", "multiprocess-ft", "--workloads", "cpu-sweep", "--no-references"]
    opts, _ = bench_cli.options_from_args(parse_args(args))
    jobs = build_jobs(opts)
    if FREE_THREADED["multiprocess-ft"].unavailable() is not None:
        assert jobs == []  # left out, and said so in the notes
        return
    assert [j.params.server_args for j in jobs] == [("--workers", str(n)) for n in (1, 2, 4, 8)]
