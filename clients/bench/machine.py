"""What the figures were measured on: CPU, cores, Python, package versions, tools."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = (
    "uvloop",
    "gevent",
    "greenlet",
    "aiohttp",
    "psutil",
    "hdrhistogram",
    "matplotlib",
    "rich",
)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[2],
        )
        commit = out.stdout.strip() or None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "servers", "clients"],
            capture_output=True,
            text=True,
            check=False,
            cwd=Path(__file__).resolve().parents[2],
        )
        return f"{commit} (with uncommitted changes)" if commit and dirty.stdout.strip() else commit
    except OSError:
        return None


def _nginx_version() -> str | None:
    from clients.references.nginx import binary

    exe = binary()
    if exe is None:
        return None
    out = subprocess.run([exe, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().split("/")[-1] or "unknown"


def describe() -> dict[str, Any]:
    """The ``machine`` block of results.json."""
    from clients.bench import wrk

    return {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_available": sorted(os.sched_getaffinity(0)),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "system": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {p: _version(p) for p in PACKAGES},
        "wrk": wrk.version(),
        "nginx": _nginx_version(),
        "git_commit": _git_commit(),
    }
