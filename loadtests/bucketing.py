"""Finer response-time buckets than Locust's two significant digits.

Locust stores every response time in a histogram keyed by
``locust.stats.bucket_response_time(ms)``, which rounds to about two
significant digits (0.4 ms -> 0, 1.4 ms -> 1), and its CSV writer casts
percentiles to ``int``. Against servers that answer in a fraction of a
millisecond that reads as 0 or 1 ms. :func:`install` replaces both (Locust
documents the bucket function as replaceable) so reports keep 0.01 ms below
10 ms and three significant digits above.
"""

from __future__ import annotations

import math
from typing import Any

#: resolution below 10 ms, in milliseconds
FINE_MS = 0.01


def fine_bucket(response_time: float) -> float:
    """The histogram key for ``response_time`` ms: 0.01 ms steps below 10 ms, else 3 significant digits."""
    if response_time < 10:
        return round(response_time, 2)
    digits = 2 - int(math.floor(math.log10(response_time)))
    value = round(response_time, digits)
    return float(value) if digits > 0 else float(int(value))


def format_ms(value: float | None) -> str:
    """A response time for the CSV: two decimals below 10 ms, fewer above."""
    if value is None:
        return "0"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def _percentile_fields(self: Any, stats_entry: Any, use_current: bool = False) -> list[str]:
    """``StatsCSV._percentile_fields`` without the cast to whole milliseconds."""
    if not stats_entry.num_requests:
        return list(self.percentiles_na)
    if use_current and stats_entry.use_response_times_cache:
        get = stats_entry.get_current_response_time_percentile
    else:
        get = stats_entry.get_response_time_percentile
    return [format_ms(get(p)) for p in self.percentiles_to_report]


def install() -> None:
    """Use :func:`fine_bucket` for every histogram and keep fractions in the CSV percentiles."""
    import locust.stats

    locust.stats.bucket_response_time = fine_bucket  # type: ignore[assignment]
    locust.stats.StatsCSV._percentile_fields = _percentile_fields  # type: ignore[method-assign,assignment]
