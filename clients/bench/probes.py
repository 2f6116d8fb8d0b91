"""The bench's own measurements, with no server: each runs in a fresh process and becomes a run.

* ``gil_switch`` (:mod:`clients.bench.gil_switch`): how long a CPU-bound thread
  holds the GIL before handing it over, at several switch intervals (the
  workload gives it every CPU: each spinner gets one of its own);
* ``fork_cost`` (:mod:`clients.bench.fork_cost`): CPU and page faults per fork,
  one fresh parent per size, on the server CPU (where the fork server runs).

Each runs on the workload's server CPUs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from clients.bench.records import ForkCost, ForkSize, HandOvers, Run, from_dict

#: (label, imports, extra MiB of objects) of each parent size; quick runs the first three
FORK_SIZES = (
    ("bare interpreter", "bare", 0),
    ("+ logging (its at-fork handlers)", "logging", 0),
    ("fork server's imports", "server", 0),
    ("+ 32 MiB of objects", "server", 32),
    ("+ 128 MiB of objects", "server", 128),
)
FORKS, TOUCH_FORKS = 200, 10
QUICK_FORKS, QUICK_TOUCH_FORKS = 50, 3
TIMEOUT_S = 300


class ProbeError(RuntimeError):
    """A probe's process failed (its stderr is in the message)."""


def _run_module(module: str, args: Sequence[str], cpus: Sequence[int]) -> dict[str, Any]:
    """``python -m module args`` on ``cpus`` (set before it is done importing); its JSON."""
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        os.sched_setaffinity(proc.pid, cpus)
    except OSError:  # already gone: its exit status says why
        pass
    try:
        out, err = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise ProbeError(f"{module} ran past {TIMEOUT_S} s") from None
    if proc.returncode != 0:
        raise ProbeError(f"{module} exited {proc.returncode}: {err[-1000:]}")
    doc: dict[str, Any] = json.loads(out)
    return doc


def gil_switch(quick: bool, cpus: Sequence[int]) -> HandOvers:
    """Hand-overs between two CPU-bound threads at each switch interval."""
    doc = _run_module("clients.bench.gil_switch", ["--quick"] if quick else [], cpus)
    return from_dict(HandOvers, doc)


def fork_cost(quick: bool, cpus: Sequence[int]) -> ForkCost:
    """CPU per fork for each parent size (a fresh process each)."""
    sizes = FORK_SIZES[:3] if quick else FORK_SIZES
    forks, touch = (QUICK_FORKS, QUICK_TOUCH_FORKS) if quick else (FORKS, TOUCH_FORKS)
    measured = []
    for label, imports, mib in sizes:
        args = ["--label", label, "--imports", imports, "--heap-mib", str(mib)]
        args += ["--forks", str(forks), "--touch-forks", str(touch)]
        measured.append(from_dict(ForkSize, _run_module("clients.bench.fork_cost", args, cpus)))
    return ForkCost(measured)


#: the model a probe's run is filed under
PROBE_MODEL = {"gil_switch": "cpython", "fork_cost": "fork"}


def run(probe: str, workload: str, quick: bool, cpus: Sequence[int]) -> Run:
    """The run of one probe (failed, with the reason, if its process failed)."""
    row = Run(model=PROBE_MODEL[probe], workload=workload)
    try:
        if probe == "gil_switch":
            row.handovers = gil_switch(quick, cpus)
        elif probe == "fork_cost":
            row.fork_cost = fork_cost(quick, cpus)
        else:
            raise ProbeError(f"unknown probe {probe!r}")
    except (ProbeError, ValueError) as exc:
        row.failed, row.errors, row.flagged = str(exc)[:500], 1, True
    return row
