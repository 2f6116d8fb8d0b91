"""Where a report's figures come from: the commit, the date, the machine.

Every report opens with these lines (:func:`markdown_lines`), so a figure read
months later still says what produced it. :func:`describe` measures them now;
:meth:`Provenance.from_dict` reads them back from a results file (other keys of
the same block are left alone).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any

#: the third-party packages whose versions can move a figure
PACKAGES = (
    "uvloop",
    "gevent",
    "greenlet",
    "aiohttp",
    "psutil",
    "hdrhistogram",
    "locust",
    "matplotlib",
    "rich",
)
#: the folders whose uncommitted changes make a commit id untrue
SOURCE_DIRS = ("servers", "clients", "loadtests", "common", "iomodels")
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Provenance:
    """The commit, the date and the machine of a run (the keys of a results file's ``machine`` block)."""

    timestamp: str = ""
    git_commit: str | None = None
    cpu_model: str = "unknown"
    cpu_count: int | None = None
    cpus_available: list[int] = field(default_factory=list)
    memory_gib: float | None = None
    system: str = ""
    python: str = ""
    packages: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Provenance:
        """The provenance keys of ``data`` (a results file's ``machine`` block); others are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


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


def git_commit(root: Path = REPO_ROOT) -> str | None:
    """The short commit id of ``root``, noting uncommitted changes to the sources; None outside git."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], capture_output=True, text=True, check=False, cwd=root)
        return out.stdout.strip()

    try:
        commit = git("rev-parse", "--short", "HEAD") or None
        dirty = commit and git("status", "--porcelain", "--", *SOURCE_DIRS)
    except OSError:
        return None
    return f"{commit} (with uncommitted changes)" if dirty else commit


def describe(packages: Sequence[str] = PACKAGES) -> Provenance:
    """The provenance of a run starting now, on this machine, from this checkout."""
    return Provenance(
        timestamp=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        git_commit=git_commit(),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        cpus_available=sorted(os.sched_getaffinity(0)),
        memory_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        system=f"{platform.system()} {platform.release()}",
        python=f"{platform.python_implementation()} {platform.python_version()}",
        packages={p: _version(p) for p in packages},
    )


def markdown_lines(p: Provenance) -> list[str]:
    """The report's opening lines (markdown list items): commit and date, machine, software."""
    versions = ", ".join(f"{k} {v}" for k, v in p.packages.items() if v)
    return [
        f"- Commit {p.git_commit or 'unknown'}, {p.timestamp or 'date unknown'}",
        f"- CPU: {p.cpu_model} ({p.cpu_count} CPUs), {p.memory_gib} GiB RAM",
        f"- System: {p.system}; {p.python}",
        f"- Packages: {versions}",
    ]
