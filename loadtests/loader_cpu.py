"""How busy Locust itself is: honest load means knowing when the loader is the bottleneck.

Locust's own warning looks every 10 s and stays silent in short runs. This
samples the CPU of every Locust process (the master and its ``--processes``
workers, and workers started apart from it: ``--loader-pids``) at each tick; a run is ``loader-bound`` when the busiest process sits
at or above the threshold (80 % of a core by default: past it the gevent loop
queues, and response times start to include Locust's own scheduling delay)
in at least a quarter of the samples taken while users were running.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psutil

from common.process_tree import ProcessTree

#: share of the running samples that must be saturated to call the run loader-bound
BOUND_SHARE = 0.25
#: mean machine CPU (% of all cores) from which the machine itself is the limit
MACHINE_FULL_PCT = 90.0


@dataclass
class LoaderSample:
    busiest_pct: float  # the busiest Locust process, % of one core
    total_pct: float  # all Locust processes together, % of one core
    processes: int
    machine_pct: float  # the whole machine, % of all cores


@dataclass
class LoaderCpu:
    """Samples the CPU of a Locust process tree; keeps the figures of the running phase."""

    threshold_pct: float = 80.0
    pid: int = field(default_factory=os.getpid)
    more_pids: tuple[
        int, ...
    ] = ()  # Locust processes this one did not fork (workers on test hosts)
    _procs: dict[int, psutil.Process] = field(default_factory=dict)
    running: list[LoaderSample] = field(default_factory=list)

    def __post_init__(self) -> None:
        psutil.cpu_percent(None)
        self._refresh()

    def _refresh(self) -> None:
        tree = [p for pid in (self.pid, *self.more_pids) for p in ProcessTree(pid).processes()]
        alive = {p.pid for p in tree}
        for pid in list(self._procs):
            if pid not in alive:
                del self._procs[pid]
        for proc in tree:
            if proc.pid not in self._procs:
                self._procs[proc.pid] = proc
                try:
                    proc.cpu_percent(None)  # the first call only starts the clock
                except psutil.Error:
                    pass

    def sample(self, running: bool) -> LoaderSample:
        """CPU since the previous call; kept for the summary when ``running``."""
        per_process = []
        for proc in list(self._procs.values()):
            try:
                per_process.append(proc.cpu_percent(None))
            except psutil.Error:
                continue
        self._refresh()
        sample = LoaderSample(
            busiest_pct=round(max(per_process, default=0.0), 1),
            total_pct=round(sum(per_process), 1),
            processes=len(per_process),
            machine_pct=round(psutil.cpu_percent(None), 1),
        )
        if running:
            self.running.append(sample)
        return sample

    def reset(self) -> None:
        self.running.clear()

    def saturated_share(self) -> float:
        if not self.running:
            return 0.0
        hot = sum(1 for s in self.running if s.busiest_pct >= self.threshold_pct)
        return hot / len(self.running)

    @property
    def loader_bound(self) -> bool:
        return bool(self.running) and self.saturated_share() >= BOUND_SHARE

    def summary(self) -> dict[str, float | int | bool]:
        """Figures over the running phase, for the report."""
        busiest = [s.busiest_pct for s in self.running] or [0.0]
        machine = [s.machine_pct for s in self.running] or [0.0]
        return {
            "loader_bound": self.loader_bound,
            "loader_cpu_threshold_pct": self.threshold_pct,
            "loader_cpu_busiest_mean_pct": round(sum(busiest) / len(busiest), 1),
            "loader_cpu_busiest_peak_pct": max(busiest),
            "loader_saturated_share": round(self.saturated_share(), 3),
            "loader_processes": max((s.processes for s in self.running), default=0),
            "machine_cpu_mean_pct": round(sum(machine) / len(machine), 1),
            # server and Locust share this machine: when it is full, neither figure is the server alone
            "machine_saturated": bool(self.running)
            and sum(machine) / len(machine) >= MACHINE_FULL_PCT,
            "samples": len(self.running),
        }
