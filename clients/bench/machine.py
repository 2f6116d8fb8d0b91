"""What the bench's figures were measured on: the provenance every report has, plus the bench's tools."""

from __future__ import annotations

import subprocess
from typing import Any

from reporting import provenance


def _nginx_version() -> str | None:
    from clients.references.nginx import binary

    exe = binary()
    if exe is None:
        return None
    out = subprocess.run([exe, "-v"], capture_output=True, text=True, check=False)
    return (out.stderr or out.stdout).strip().split("/")[-1] or "unknown"


def describe() -> dict[str, Any]:
    """The ``machine`` block of results.json: commit, date, machine, and the wrk and nginx versions."""
    from clients.bench import wrk

    return {**provenance.describe().to_dict(), "wrk": wrk.version(), "nginx": _nginx_version()}
