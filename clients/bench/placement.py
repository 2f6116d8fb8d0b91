"""Where the server and the loader run: different CPUs whenever there are two or more."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Placement:
    """CPU sets for the server (and all its processes) and for the loader (and the harness)."""

    server_cpus: tuple[int, ...]
    loader_cpus: tuple[int, ...]
    shared: bool  # server and loader share a CPU (one-CPU machine, or the ``cpu`` workload)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        note = " (shared)" if self.shared else ""
        return f"server CPU {_cpus(self.server_cpus)}, loader CPU {_cpus(self.loader_cpus)}{note}"


def _cpus(cpus: Sequence[int]) -> str:
    return ",".join(map(str, cpus))


def available_cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def parse_cpus(text: str) -> tuple[int, ...]:
    """``"0"``, ``"0,1"``, ``"2-3"`` -> a tuple of CPU numbers."""
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            low, high = part.split("-")
            out += range(int(low), int(high) + 1)
        elif part.strip():
            out.append(int(part))
    return tuple(out)


def plan(
    server: Sequence[int] | None = None,
    loader: Sequence[int] | None = None,
    all_cpus_for_server: bool = False,
) -> Placement:
    """Default: server on the first CPU, loader on the rest (both on CPU 0 if there is only one).

    ``all_cpus_for_server`` gives the server every CPU (the loader keeps its own, now shared).
    """
    cpus = available_cpus()
    server_cpus = tuple(server) if server else (cpus[0],)
    loader_cpus = (
        tuple(loader) if loader else (tuple(c for c in cpus if c not in server_cpus) or server_cpus)
    )
    if all_cpus_for_server:
        server_cpus = tuple(cpus)
    return Placement(server_cpus, loader_cpus, bool(set(server_cpus) & set(loader_cpus)))
