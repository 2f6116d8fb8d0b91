"""What the server is doing: its ``/stats`` document plus, when it runs here, its CPU.

:class:`ServerProbe` reads the target's ``GET /stats`` (a fresh connection per
read with ``Connection: close``, so it never pins a fork child or a keep-alive
slot) and, when the server's process is visible on this machine (a loopback
target, or ``--server-pid``), the CPU time of its whole process tree. A server
without ``/stats`` (``--protocol echo``) is read through psutil alone.
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

import psutil

from common.process_tree import ProcessTree

MB = 1024 * 1024


def local_server_pid(pid: int) -> int:
    """``pid`` if it is an iomodels server visible here (not a stranger in another namespace), else 0."""
    try:
        cmdline = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return 0
    return pid if "iomodels" in cmdline or "servers" in cmdline else 0


class ServerProbe:
    """Reads one server's figures; :meth:`read` returns a flat dict (missing figures are absent)."""

    def __init__(self, host: str, pid: int = 0, timeout: float = 2.0) -> None:
        self.url = host
        parts = urlsplit(host)
        self.http = parts.scheme in ("http", "https") and bool(parts.hostname)
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.https = parts.scheme == "https"
        self.pid = pid
        self.timeout = timeout
        self.error = ""
        self._cpu_last: tuple[float, float] | None = None
        self._requests_last: tuple[float, int] | None = None

    def fetch_stats(self) -> dict[str, Any] | None:
        """``GET /stats`` over a fresh connection; None (and :attr:`error` set) when it fails."""
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = cls(self.host, self.port, timeout=self.timeout)
        try:
            conn.request("GET", "/stats", headers={"Connection": "close"})
            resp = conn.getresponse()
            body = resp.read()
            if resp.status != 200:
                self.error = f"/stats answered {resp.status}"
                return None
            doc = json.loads(body)
            self.error = ""
            return doc if isinstance(doc, dict) else None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.error = f"/stats: {exc}"
            return None
        finally:
            conn.close()

    def _cpu_pct(self, pid: int, now: float) -> float | None:
        seconds = ProcessTree(pid).cpu_seconds()
        if seconds is None:
            return None
        last, self._cpu_last = self._cpu_last, (now, seconds)
        if last is None or now <= last[0]:
            return None
        return round(max(seconds - last[1], 0.0) / (now - last[0]) * 100.0, 1)

    def _rate(self, requests: int, now: float) -> float | None:
        """Requests/s since the last read, less this probe's own ``GET /stats`` (one per read)."""
        last, self._requests_last = self._requests_last, (now, requests)
        if last is None or now <= last[0]:
            return None
        return round(max(requests - last[1] - 1, 0) / (now - last[0]), 1)

    def read(self) -> dict[str, Any]:
        """The figures now: ``rss_mb``, ``cpu_pct``, ``connections``, ``processes``, ``threads``, ``rps``..."""
        now = time.monotonic()
        out: dict[str, Any] = {}
        doc = self.fetch_stats() if self.http else None
        pid = self.pid
        if doc is not None:
            out["model"] = doc.get("model", "")
            out["workers"] = doc.get("workers", 0)
            # the poll's own connection is open while /stats is served: leave it out
            out["connections"] = max(int(doc.get("connections_open", 0)) - 1, 0)
            out["requests_total"] = int(doc.get("requests_total", 0))
            out["rss_mb"] = round(doc.get("rss_bytes", 0) / MB, 1)
            out["processes"] = doc.get("processes", 0)
            out["threads"] = doc.get("threads", 0)
            if self.host in ("127.0.0.1", "localhost", "::1") and not pid:
                pid = local_server_pid(int(doc.get("root_pid") or doc.get("pid") or 0))
            rate = self._rate(out["requests_total"], now)
            if rate is not None:
                out["rps"] = rate
        elif pid and psutil.pid_exists(pid):
            tree = ProcessTree(pid)
            usage = tree.usage()
            out["rss_mb"] = round(usage.rss_bytes / MB, 1)
            out["processes"] = usage.processes
            out["threads"] = usage.threads
            out["connections"] = tree.connections()
        if pid:
            cpu = self._cpu_pct(pid, now)
            if cpu is not None:
                out["cpu_pct"] = cpu
        return out
