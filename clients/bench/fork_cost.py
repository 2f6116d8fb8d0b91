"""What one ``fork()`` costs, against the size of the parent.

A parent of a given size forks children, one at a time, and reaps each. CPU
per fork is the parent's CPU time plus the children's (``RUSAGE_CHILDREN``),
so it counts both halves: the kernel copying the parent's page tables, and the
child tearing its own down at exit. A child's minor page faults are the pages
it touched that it had to be given: for a child that exits at once, the few
that exiting needs; for a child that first reads every object of the parent,
one copy per page holding an object, since reading a Python object writes its
reference count.

Each size runs in a fresh process (``python -m clients.bench.fork_cost --imports
... --heap-mib ...``, JSON on stdout), so that nothing from the bench inflates the
parent; ``--out DIR`` runs every size of :data:`SIZES` so and writes
``DIR/fork_cost.json``:

* ``bare``: this module's few imports on top of the interpreter;
* ``logging``: bare plus :mod:`logging` (and :mod:`threading`, which it imports): barely
  larger, but both register handlers that every child runs right after ``fork()``;
* ``server``: the modules ``iomodels serve --model fork`` loads;
* ``server`` plus ``--heap-mib N`` MiB of small Python objects (lists).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

#: what the fork server's parent imports (its CLI, the listener and the driver)
SERVER_MODULES = ("iomodels.cli", "servers.cli", "servers.listener", "servers.models.forking")
#: the modules of each ``--imports`` choice
IMPORTS = {"bare": (), "logging": ("logging",), "server": SERVER_MODULES}
FORKS = 200
TOUCH_FORKS = 10
QUICK_FORKS, QUICK_TOUCH_FORKS = 50, 3
#: (label, imports, extra MiB of objects) of each parent size; ``--quick`` measures the first three
SIZES = (
    ("bare interpreter", "bare", 0),
    ("+ logging (its at-fork handlers)", "logging", 0),
    ("fork server's imports", "server", 0),
    ("+ 32 MiB of objects", "server", 32),
    ("+ 128 MiB of objects", "server", 128),
)
#: bytes per object of the heap (a list of 8 ints, its header and the allocator's share)
OBJECT_BYTES = 160


def rss_mib() -> float:
    """This process's resident set size in MiB (``VmRSS``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def touch_everything() -> None:
    """Read every object the collector tracks: each read writes its reference count."""
    for obj in gc.get_objects():
        del obj


def fork_children(forks: int, touch: bool) -> dict[str, float]:
    """Fork ``forks`` children one at a time (each exits at once, or after touching every object)."""
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(forks):
        pid = os.fork()
        if pid == 0:
            if touch:
                touch_everything()
            os._exit(0)
        os.waitpid(pid, 0)
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    parent_s = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
    child_s = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    return {
        "cpu_ms": (parent_s + child_s) / forks * 1000,
        "parent_ms": parent_s / forks * 1000,
        "faults": (kids1.ru_minflt - kids0.ru_minflt) / forks,
    }


def measure(
    label: str, imports: str, heap_mib: int, forks: int, touch_forks: int
) -> dict[str, Any]:
    """One parent size: build it, then fork (the ``ForkSize`` record as a dict)."""
    for module in IMPORTS[imports]:
        importlib.import_module(module)
    heap = [[i] * 8 for i in range(heap_mib * 1024 * 1024 // OBJECT_BYTES)]
    gc.collect()
    time.sleep(0.05)  # let the allocator settle before the size is read
    size = rss_mib()
    quick = fork_children(forks, touch=False)
    touched = fork_children(touch_forks, touch=True) if touch_forks else None
    del heap
    return {
        "label": label,
        "rss_mib": size,
        "forks": forks,
        "cpu_ms": quick["cpu_ms"],
        "parent_ms": quick["parent_ms"],
        "faults": quick["faults"],
        "touch_cpu_ms": touched["cpu_ms"] if touched else None,
        "touch_faults": touched["faults"] if touched else None,
    }


def every_size(quick: bool) -> dict[str, Any]:
    """Each size of :data:`SIZES` in a fresh process (the ``ForkCost`` record as a dict)."""
    sizes = SIZES[:3] if quick else SIZES
    forks, touch = (QUICK_FORKS, QUICK_TOUCH_FORKS) if quick else (FORKS, TOUCH_FORKS)
    measured = []
    for label, imports, mib in sizes:
        args = ["--label", label, "--imports", imports, "--heap-mib", str(mib)]
        args += ["--forks", str(forks), "--touch-forks", str(touch)]
        done = subprocess.run(
            [sys.executable, "-m", "clients.bench.fork_cost", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"{label}: exited {done.returncode}: {done.stderr[-1000:]}")
        measured.append(json.loads(done.stdout))
    return {"sizes": measured}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.bench.fork_cost", description=__doc__)
    parser.add_argument("--out", help="measure every size; write fork_cost.json into this folder")
    parser.add_argument("--quick", action="store_true", help="with --out: the first three sizes")
    parser.add_argument("--label", default="", help="the size's name in the report")
    parser.add_argument("--imports", choices=list(IMPORTS), default="bare")
    parser.add_argument("--heap-mib", type=int, default=0, help="MiB of small objects to add")
    parser.add_argument("--forks", type=int, default=FORKS, help="children that exit at once")
    parser.add_argument(
        "--touch-forks", type=int, default=TOUCH_FORKS, help="children that read every object"
    )
    args = parser.parse_args(argv)
    if args.out:
        from clients.bench.experiments import write

        write(args.out, "fork_cost", every_size(args.quick))
        return 0
    label = args.label or args.imports + (f" + {args.heap_mib} MiB" if args.heap_mib else "")
    doc = measure(label, args.imports, args.heap_mib, args.forks, args.touch_forks)
    print(json.dumps(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
