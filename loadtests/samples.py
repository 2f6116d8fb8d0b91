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
