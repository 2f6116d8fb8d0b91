"""The experiments beside the matrix: measurements the bench makes with programs of their own.

Each is a module with a main that measures one thing and, given ``--out DIR``,
writes ``DIR/<module>.json`` (``python -m clients.bench.fork_cost --out
results/<stamp>``): the GIL's hand-overs (``gil_switch``), CPU per fork by the
parent's size (``fork_cost``), threads sharing a counter (``shared_state``)
system calls per request (``syscalls``) and ``GET /db`` against a real
Redis (``upstream``). The bench runs each in a fresh
process (:func:`run`); the report reads the files back (:func:`load`). An
experiment is named in ``--workloads`` like a workload; a new one is a module
with such a main and a line in :data:`EXPERIMENTS`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clients.bench.records import Experiments, ForkCost, HandOvers, SyscallFigures, from_dict

#: the models whose system calls are counted (readiness loops against the completion ring)
SYSCALL_MODELS = ("reactor", "asyncio", "uvloop", "iouring")
SYSCALL_REQUESTS, SYSCALL_REQUESTS_QUICK = 20_000, 2_000
TIMEOUT_S = 600


@dataclass(frozen=True)
class Experiment:
    """One experiment.

    Attributes:
        name: as ``--workloads`` names it (and the report's section).
        module: the program (``python -m``); its last part names the file it writes.
        summary: what it measures, for the report.
        seconds: rough seconds it takes, in full and with ``--quick`` (for the ETA).
        cpus: where it runs: ``"server"`` (the server CPUs), ``"all"`` (every CPU), or
            ``""`` (unpinned: it places its own processes).
        models: the models it is asked about (``--models``), those of the run it knows.
    """

    name: str
    module: str
    summary: str
    seconds: tuple[float, float]
    cpus: str = "server"
    models: tuple[str, ...] = ()

    @property
    def file(self) -> str:
        return self.module.rsplit(".", 1)[-1] + ".json"

    def args(self, quick: bool, models: Sequence[str]) -> list[str]:
        """Its command-line arguments beside ``--out``."""
        args = ["--quick"] if quick else []
        if self.models:
            chosen = [m for m in models if m in self.models]
            requests = SYSCALL_REQUESTS_QUICK if quick else SYSCALL_REQUESTS
            args = ["--models", ",".join(chosen), "--requests", str(requests)]
        return args


EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in (
        Experiment("shared-state", "clients.bench.shared_state", "threads each adding 1 to one "
                   "counter, without and with threading.Lock", (3.0, 3.0)),
        Experiment("gil-switch", "clients.bench.gil_switch", "two CPU-bound threads handing the GIL "
                   "over, at each switch interval", (8.0, 2.0), cpus="all"),
        Experiment("syscalls", "clients.bench.syscalls", f"system calls per request, counted with "
                   f"strace -c -f over {SYSCALL_REQUESTS:,} requests (echo-1k: per echoed message; "
                   "hello: per GET /): readiness against completion", (60.0, 15.0), cpus="",
                   models=SYSCALL_MODELS),
        Experiment("fork-cost", "clients.bench.fork_cost", "CPU per fork against the parent's size: "
                   "a child that exits at once, and one that reads every object", (8.0, 2.0)),
        Experiment("upstream", "clients.bench.upstream", "GET /db against a real redis-server at 100 "
                   "and 1,000 clients: req/s, CPU per request, p99 and the connections each model "
                   "opened to Redis", (250.0, 45.0), cpus=""),
    )
}  # fmt: skip


def write(out: str | None, module: str, doc: Any) -> None:
    """An experiment's record: into ``out/<module>.json`` when given, else printed as JSON."""
    text = json.dumps(doc, indent=1)
    if out is None:
        print(text)
    else:
        (Path(out) / (module.rsplit(".", 1)[-1] + ".json")).write_text(text + "\n")


def run(
    experiment: Experiment,
    out: Path,
    *,
    quick: bool,
    models: Sequence[str],
    server_cpus: Sequence[int],
) -> str | None:
    """Run ``experiment`` into ``out``; None when it wrote its file, else why not (also written)."""
    command = [sys.executable, "-m", experiment.module, "--out", str(out)]
    proc = subprocess.Popen(
        [*command, *experiment.args(quick, models)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    cpus = {"server": server_cpus, "all": sorted(os.sched_getaffinity(0))}.get(experiment.cpus)
    if cpus:
        try:
            os.sched_setaffinity(proc.pid, cpus)
        except OSError:  # already gone: its exit status says why
            pass
    try:
        _, err = proc.communicate(timeout=TIMEOUT_S)
        failed = f"exited {proc.returncode}: {err[-1000:]}" if proc.returncode else None
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        failed = f"ran past {TIMEOUT_S} s"
    if failed is None and not (out / experiment.file).is_file():
        failed = f"wrote no {experiment.file}"
    if failed is not None:
        failed = f"{experiment.module} {failed}"
        (out / experiment.file).write_text(json.dumps({"failed": failed}) + "\n")
    return failed


def load(folder: Path) -> Experiments:
    """The experiments' files in a run's folder (what is not there was not run)."""
    found = Experiments()
    for experiment in EXPERIMENTS.values():
        path = folder / experiment.file
        if not path.is_file():
            continue
        doc = json.loads(path.read_text())
        if isinstance(doc, dict) and "failed" in doc:
            found.failed[experiment.name] = doc["failed"]
        elif experiment.name == "gil-switch":
            found.gil_switch = from_dict(HandOvers, doc)
        elif experiment.name == "fork-cost":
            found.fork_cost = from_dict(ForkCost, doc)
        elif experiment.name == "shared-state":
            found.shared_state = doc
        elif experiment.name == "upstream":
            found.upstream = doc["rows"]
        else:
            found.syscalls = {m: from_dict(SyscallFigures, d) for m, d in doc.items()}
    return found


#: the model a probe's run was filed under in a results.json written before the experiments had files
_PROBE_MODEL = {"gil-switch": "cpython", "fork-cost": "fork"}


def from_old_runs(machine: dict[str, Any], runs: list[dict[str, Any]]) -> Experiments:
    """The experiments of a results.json from before they had files: their records were runs.

    The runs they were are taken out of ``runs``.
    """
    found = Experiments(shared_state=machine.get("shared_counter"))
    for raw in list(runs):
        workload, model = raw["workload"], raw["model"]
        if workload == "syscalls":
            found.syscalls[model] = from_dict(SyscallFigures, raw.get("syscalls") or {})
        elif _PROBE_MODEL.get(workload) != model:
            continue
        elif raw.get("failed"):
            found.failed[workload] = raw["failed"]
        elif workload == "gil-switch":
            found.gil_switch = from_dict(HandOvers, raw["handovers"])
        else:
            found.fork_cost = from_dict(ForkCost, raw["fork_cost"])
        runs.remove(raw)
    return found
