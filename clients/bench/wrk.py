"""The ``wrk`` cross-check: the same HTTP load from a C client, when ``wrk`` is installed.

``sudo apt-get install wrk``; without it the bench says so once and goes on.
"""

from __future__ import annotations

import re
import shutil
import subprocess

from clients.bench.records import Latency, WrkFigures

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def available() -> bool:
    return shutil.which("wrk") is not None


def version() -> str | None:
    if not available():
        return None
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk (\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"cannot read wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse(output: str) -> WrkFigures:
    """Requests/s, latency percentiles (ms) and errors from ``wrk --latency`` output."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise ValueError("no Requests/sec in wrk output")
    percentiles: dict[str, float | None] = {}
    for key, pct in (("p50", "50"), ("p90", "90"), ("p99", "99")):
        match = re.search(rf"^\s+{pct}%\s+(\S+)", output, re.M)
        percentiles[key] = _ms(match.group(1)) if match else None
    stats = re.search(r"Latency\s+(\S+)\s+(\S+)\s+(\S+)", output)
    latency = Latency(**percentiles, max=_ms(stats.group(3)) if stats else None)
    requests = re.search(r"(\d+) requests in", output)
    errors = 0
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sock:
        errors += sum(int(g) for g in sock.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    return WrkFigures(
        rps=float(rps.group(1)),
        latency_ms=latency,
        errors=errors,
        requests=int(requests.group(1)) if requests else None,
    )


def command(url: str, connections: int, duration: float) -> list[str]:
    return ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", url]
