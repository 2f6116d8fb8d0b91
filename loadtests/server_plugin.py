"""The server side next to Locust's figures: a plugin polling ``/stats`` and the loader's CPU.

On ``events.init`` (in the master or a standalone Locust, never in a worker) it
starts a greenlet that, every ``--server-stats-interval`` seconds, reads the
target server (:class:`~loadtests.server_stats.ServerProbe`) and Locust's own
CPU (:class:`~loadtests.loader_cpu.LoaderCpu`) into one :class:`Sample` row.
The rows go to ``<--csv prefix>_server_stats.csv`` as they come, to a tab of
the web UI (see :mod:`loadtests.web_tab`), and at the end into the HTML report
and the ``--iomodels-summary`` JSON, with the ``loader-bound`` verdict.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import gevent
from locust import events
from locust.runners import WorkerRunner

from loadtests import options as opt
from loadtests.loader_cpu import LoaderCpu
from loadtests.samples import COLUMNS, RUNNING, Sample
from loadtests.server_stats import ServerProbe

logger = logging.getLogger(__name__)


@dataclass
class ServerStatsPlugin:
    """Polls, keeps and writes the samples of one Locust run."""

    environment: Any
    probe: ServerProbe
    loader: LoaderCpu
    interval: float = 1.0
    samples: list[Sample] = field(default_factory=list)
    model: str = ""
    #: the states summarised: the ramp too, unless Locust measures from its end (--reset-stats)
    measured: tuple[str, ...] = RUNNING
    started: float = field(default_factory=time.time)
    _csv_file: TextIO | None = None
    _csv: Any = None
    _greenlet: gevent.Greenlet | None = None

    # -- life cycle -------------------------------------------------------------
    def start(self, csv_path: str | None) -> None:
        if csv_path:
            Path(csv_path).parent.mkdir(parents=True, exist_ok=True)
            self._csv_file = open(csv_path, "w", newline="")  # noqa: SIM115 (closed in stop)
            self._csv = csv.writer(self._csv_file)
            self._csv.writerow(COLUMNS)
        self._greenlet = gevent.spawn(self._loop)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv_file = None

    def reset(self) -> None:
        """A new test starts: forget the previous one's samples and loader figures."""
        self.samples.clear()
        self.loader.reset()
        self.started = time.time()

    def _loop(self) -> None:
        while True:
            gevent.sleep(self.interval)
            try:
                self.take_sample()
            except Exception:  # a bad sample must never stop the polling
                logger.exception("server stats sample failed")

    # -- sampling -------------------------------------------------------------
    def take_sample(self) -> Sample:
        runner = self.environment.runner
        state = str(getattr(runner, "state", "")) if runner is not None else ""
        running = state in self.measured
        server = self.probe.read()
        self.model = server.get("model") or self.model
        load = self.loader.sample(running)
        now = time.time()
        sample = Sample(
            timestamp=now,
            elapsed_s=round(now - self.started, 1),
            state=state,
            values={
                "server_cpu_pct": server.get("cpu_pct"),
                "server_rss_mb": server.get("rss_mb"),
                "server_connections": server.get("connections"),
                "server_processes": server.get("processes"),
                "server_threads": server.get("threads"),
                "server_rps": server.get("rps"),
                "users": getattr(runner, "user_count", 0) if runner is not None else 0,
                "loader_cpu_pct": load.busiest_pct,
                "loader_total_pct": load.total_pct,
                "machine_cpu_pct": load.machine_pct,
            },
        )
        self.samples.append(sample)
        if self._csv is not None and self._csv_file is not None:
            self._csv.writerow(sample.row())
            self._csv_file.flush()
        return sample

    # -- figures --------------------------------------------------------------
    def series(self, key: str, running_only: bool = False) -> list[float]:
        return [
            v
            for s in self.samples
            if (v := s.values.get(key)) is not None
            and (not running_only or s.state in self.measured)
        ]

    def summary(self) -> dict[str, Any]:
        """Server figures over the running phase, and the loader verdict."""

        def peak(key: str) -> float | None:
            values = self.series(key, running_only=True)
            return max(values) if values else None

        def mean(key: str) -> float | None:
            values = self.series(key, running_only=True)
            return round(sum(values) / len(values), 1) if values else None

        return {
            "model": self.model,
            "server_cpu_mean_pct": mean("server_cpu_pct"),
            "server_cpu_peak_pct": peak("server_cpu_pct"),
            "server_rss_peak_mb": peak("server_rss_mb"),
            "server_connections_peak": peak("server_connections"),
            "server_processes_peak": peak("server_processes"),
            "server_threads_peak": peak("server_threads"),
            "server_rps_mean": mean("server_rps"),
            "server_probe_error": self.probe.error,
            **self.loader.summary(),
        }

    def summary_line(self) -> str:
        s = self.summary()

        def fmt(value: Any, unit: str = "") -> str:
            return "n/a" if value is None else f"{value:g}{unit}"

        verdict = (
            "LOADER-BOUND (Locust saturated: figures understate the server)"
            if s["loader_bound"]
            else "not loader-bound"
        )
        return (
            f"server {s['model'] or '?'}: CPU mean {fmt(s['server_cpu_mean_pct'], '%')}, "
            f"RSS peak {fmt(s['server_rss_peak_mb'], ' MB')}, connections peak {fmt(s['server_connections_peak'])}, "
            f"processes peak {fmt(s['server_processes_peak'])}, threads peak {fmt(s['server_threads_peak'])}; "
            f"loader: busiest Locust process mean {fmt(s['loader_cpu_busiest_mean_pct'], '%')} "
            f"peak {fmt(s['loader_cpu_busiest_peak_pct'], '%')}, {verdict}; "
            f"machine CPU mean {fmt(s['machine_cpu_mean_pct'], '%')}"
            + (
                " (SATURATED: server and Locust compete for the cores)"
                if s["machine_saturated"]
                else ""
            )
        )

    def write_summary(self, path: str) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(self.summary(), indent=2, sort_keys=True) + "\n")


def csv_path_for(prefix: str | None) -> str | None:
    """Where the samples go when Locust writes CSV (``--csv PREFIX``)."""
    return f"{prefix}_server_stats.csv" if prefix else None


@events.init.add_listener
def on_init(environment: Any, **_: Any) -> None:
    """Start the plugin in the process that owns the figures (not in a worker)."""
    if isinstance(environment.runner, WorkerRunner):
        return
    options = environment.parsed_options
    plugin = ServerStatsPlugin(
        environment=environment,
        probe=ServerProbe(environment.host or "", int(opt.option(environment, "server_pid", 0))),
        loader=LoaderCpu(
            float(opt.option(environment, "loader_bound_pct", opt.LOADER_BOUND_PCT)),
            more_pids=tuple(
                int(p) for p in str(opt.option(environment, "loader_pids", "")).split(",") if p
            ),
        ),
        measured=("running",) if environment.reset_stats else RUNNING,
        interval=max(
            float(opt.option(environment, "server_stats_interval", opt.STATS_INTERVAL_S)), 0.2
        ),
    )
    environment.iomodels_server_stats = plugin
    plugin.start(csv_path_for(getattr(options, "csv_prefix", None)))

    @environment.events.test_start.add_listener
    def on_test_start(**_: Any) -> None:
        if environment.host and environment.host != plugin.probe.url:
            plugin.probe = ServerProbe(environment.host, plugin.probe.pid)
        plugin.reset()

    @environment.events.quitting.add_listener
    def on_quitting(**_: Any) -> None:
        plugin.stop()
        logger.info("%s", plugin.summary_line())
        summary_path = opt.option(environment, "iomodels_summary", "")
        if summary_path:
            plugin.write_summary(summary_path)
        html_file = getattr(options, "html_file", None)
        if html_file and Path(html_file).exists():
            from loadtests.report_section import inject_into_file

            inject_into_file(html_file, plugin)

    if environment.web_ui is not None:
        from loadtests.web_tab import install_web_tab

        install_web_tab(environment, plugin)
