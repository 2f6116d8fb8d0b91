"""Latencies into an HDR histogram, cheaply enough for 100k+ records per second.

The hot path appends nanosecond integers to an ``array``; :meth:`LatencyRecorder.histogram`
folds them (counted by microsecond) into an ``HdrHistogram`` once the run is over.
"""

from __future__ import annotations

from array import array
from collections import Counter
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3_600_000_000  # one hour
SIGNIFICANT_FIGURES = 3

#: Percentile key -> percentile, as reported in ``latency_ms``.
PERCENTILE_KEYS = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p999": 99.9}


class LatencyRecorder:
    """Collects latencies in nanoseconds; reports percentiles in milliseconds (us resolution)."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values = array("q")

    def record(self, ns: int) -> None:
        self.values.append(ns)

    def __len__(self) -> int:
        return len(self.values)

    def histogram(self) -> HdrHistogram:
        hist = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)
        counts = Counter(max(LOWEST_US, min(HIGHEST_US, ns // 1000)) for ns in self.values)
        for micros, count in counts.items():
            hist.record_value(micros, count)
        return hist

    def summary(self) -> dict[str, Any]:
        """``{"p50", "p90", "p99", "p999", "max", "mean"}`` in ms (``None`` when empty)."""
        keys = [*PERCENTILE_KEYS, "max", "mean"]
        if not self.values:
            return dict.fromkeys(keys)
        hist = self.histogram()
        out: dict[str, Any] = {
            k: hist.get_value_at_percentile(p) / 1000 for k, p in PERCENTILE_KEYS.items()
        }
        out["max"] = max(self.values) / 1e6
        out["mean"] = hist.get_mean_value() / 1000
        return out

    def encoded(self) -> str:
        """The histogram in HdrHistogram's compressed base64 form (for results.json)."""
        return self.histogram().encode().decode() if self.values else ""
