"""One poll of the server and the loader: what a sample holds, and its CSV row.

Shared by the plugin that takes the samples (:mod:`loadtests.server_plugin`)
and the views that show them (:mod:`loadtests.web_tab`, :mod:`loadtests.report_section`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: (column, label, unit) of every figure a sample holds, in display order
METRICS: list[tuple[str, str, str]] = [
    ("server_cpu_pct", "server CPU (% of one core)", "%"),
    ("server_rss_mb", "server RSS (all processes)", " MB"),
    ("server_connections", "server open connections", ""),
    ("server_processes", "server processes", ""),
    ("server_threads", "server threads", ""),
    ("server_rps", "server requests/s (its own count)", ""),
    ("users", "Locust users", ""),
    ("loader_cpu_pct", "busiest Locust process CPU", "%"),
    ("loader_total_pct", "all Locust processes CPU", "%"),
    ("machine_cpu_pct", "machine CPU (all cores)", "%"),
]
COLUMNS = ["timestamp", "elapsed_s", "state", *(key for key, _, _ in METRICS)]
RUNNING = ("spawning", "running")

#: the run summary's keys (the plugin's and the loader's) as a page names them
SUMMARY_LABELS: dict[str, str] = {
    "model": "server model",
    "server_cpu_mean_pct": "server CPU, mean (% of one core)",
    "server_cpu_peak_pct": "server CPU, peak (% of one core)",
    "server_rss_peak_mb": "server RSS, peak (MB, all processes)",
    "server_connections_peak": "server open connections, peak",
    "server_processes_peak": "server processes, peak",
    "server_threads_peak": "server threads, peak",
    "server_rps_mean": "server requests/s, mean (its own count)",
    "server_probe_error": "server probe error",
    "loader_bound": "loader-bound",
    "loader_cpu_threshold_pct": "a Locust process counts as saturated from (% CPU)",
    "loader_cpu_busiest_mean_pct": "busiest Locust process CPU, mean (%)",
    "loader_cpu_busiest_peak_pct": "busiest Locust process CPU, peak (%)",
    "loader_saturated_share": "share of the samples with Locust saturated",
    "loader_processes": "Locust processes",
    "machine_cpu_mean_pct": "machine CPU, mean (% of all cores)",
    "machine_saturated": "machine saturated",
    "samples": "samples taken while running",
}


@dataclass
class Sample:
    """One row: when, Locust's state, and every figure read (absent ones are None)."""

    timestamp: float
    elapsed_s: float
    state: str
    values: dict[str, float | None]

    def row(self) -> list[Any]:
        figures = ["" if self.values.get(k) is None else self.values[k] for k, _, _ in METRICS]
        return [round(self.timestamp, 3), self.elapsed_s, self.state, *figures]
