"""The free-threading figures of docs/free-threading.md, measured on the interpreter running this.

``flock /tmp/iomodels-bench.lock .venv-3.13.5t/bin/python tools/ft_figures.py`` (then the
same with ``.venv-3.13.5``): for each model, a server of it is started with this
interpreter, ``iomodels load`` (``--loader``: the same one for both builds) runs against it for
``--duration`` seconds, and the server's CPU seconds (its ``/stats`` ``cpu_s``,
before and after) give the cores it used and its CPU per request. One JSON line
per run on stdout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.request

from servers.gil import free_threaded_build, gil_state
from servers.launcher import ServerProcess

#: (workload, path, connections)
RUNS = (("cpu", "/cpu?n=100000", 4), ("hello", "/", 1))


def cpu_seconds(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
        return float(json.load(response)["cpu_s"])


def measure(
    loader: str, model: str, path: str, connections: int, duration: float
) -> dict[str, float]:
    with ServerProcess(model) as server:
        before = cpu_seconds(server.port)
        out = subprocess.run(
            [
                loader,
                "-m",
                "iomodels",
                "load",
                f"http://127.0.0.1:{server.port}{path}",
                "-c",
                str(connections),
                "-d",
                str(duration),
                "-w",
                "0",
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=duration + 60,
        )
        used = cpu_seconds(server.port) - before
    rows = [json.loads(line) for line in out.stdout.splitlines() if '"result"' in line]
    if not rows:
        raise SystemExit(f"no result from the load client: {out.stderr.strip()[-300:]}")
    row = rows[-1]
    requests, rate = float(row["requests"]), float(row["rps"])
    return {
        "req_s": round(rate, 1),
        "cores": round(used / duration, 2),
        "cpu_us_per_request": round(used / requests * 1e6, 1) if requests else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="thread threadloops multiprocess")
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument(
        "--loader", default=sys.executable, help="the Python running iomodels load (one for both)"
    )
    args = parser.parse_args()
    for model in args.models.split():
        for workload, path, connections in RUNS:
            figures = measure(args.loader, model, path, connections, args.duration)
            print(
                json.dumps(
                    {
                        "python": sys.version.split()[0] + ("t" if free_threaded_build() else ""),
                        "gil": gil_state(),
                        "model": model,
                        "workload": workload,
                        "connections": connections,
                        **figures,
                    }
                ),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
