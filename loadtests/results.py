"""Read a headless run's output directory back into one flat result.

Locust's ``stats.json`` (``--json-file``) holds every entry's full response-time
histogram (in our 0.01 ms buckets), so the percentiles here are computed from
the merged histogram, not averaged across entries. ``summary.json`` is the
server-stats plugin's (server figures and the loader verdict). ``locust_failures.csv``
gives each failure's cause, summed over the entries (``failure_kinds``).
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

#: percentile name -> fraction, the names reporting.formats.PERCENTILES uses
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999, "max": 1.0}


def percentile(histogram: Counter[float], fraction: float) -> float | None:
    """The response time that ``fraction`` of the requests finished within (Locust's method)."""
    total = sum(histogram.values())
    if not total:
        return None
    keep = int(total * fraction)
    done = 0
    for value in sorted(histogram, reverse=True):
        done += histogram[value]
        if total - done <= keep:
            return value
    return 0.0


def read_stats(path: Path) -> dict[str, Any]:
    """Requests, failures, rate and latency percentiles over every entry of a ``stats.json``."""
    entries = json.loads(path.read_text())
    histogram: Counter[float] = Counter()
    requests = failures = 0
    start, end = float("inf"), 0.0
    total_time = 0.0
    max_time = 0.0
    for entry in entries:
        requests += entry["num_requests"]
        failures += entry["num_failures"]
        total_time += entry["total_response_time"]
        max_time = max(max_time, entry.get("max_response_time") or 0.0)
        if entry.get("start_time"):
            start = min(start, entry["start_time"])
        end = max(end, entry.get("last_request_timestamp") or 0.0)
        for key, count in entry["response_times"].items():
            histogram[float(key)] += count
    duration = end - start if end > start else 0.0
    out: dict[str, Any] = {
        "requests": requests,
        "failures": failures,
        "duration_s": round(duration, 2),
        "rps": round(requests / duration, 1) if duration else 0.0,
        "mean_ms": round(total_time / requests, 3) if requests else None,
    }
    for name, fraction in PERCENTILES.items():
        out[f"{name}_ms"] = percentile(histogram, fraction)
    out["max_ms"] = round(max_time, 3) if requests else None
    return out


def read_failure_kinds(path: Path) -> dict[str, int]:
    """Locust's ``*_failures.csv``: occurrences by error text, over every request name."""
    kinds: Counter[str] = Counter()
    with path.open(newline="") as file:
        for row in csv.DictReader(file):
            kinds[row["Error"]] += int(row["Occurrences"])
    return dict(kinds.most_common())


def read_run(out_dir: Path) -> dict[str, Any]:
    """Locust's figures and the plugin's summary of one run directory (missing files -> fewer keys)."""
    result: dict[str, Any] = {"dir": str(out_dir)}
    stats = out_dir / "stats.json"
    if stats.exists():
        result.update(read_stats(stats))
    failures = out_dir / "locust_failures.csv"
    if failures.exists():
        result["failure_kinds"] = read_failure_kinds(failures)
    summary = out_dir / "summary.json"
    if summary.exists():
        result.update(json.loads(summary.read_text()))
    return result
