"""``iomodels models``: list the registered IO models.

On a free-threaded Python each model that can run is also started once
(127.0.0.1, port 0, in parallel), asked for ``/stats`` and stopped: the line
then says whether it served and whether the GIL stayed off, and which import
turned it back on if one did.
"""

from __future__ import annotations

import argparse
import json
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

_ENABLED_BY = re.compile(r"importing '([^']+)' enabled it")


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def probe(name: str) -> str:
    """Start model ``name``, read its ``/stats``, stop it: what it says of the GIL, in words."""
    from servers.launcher import ServerProcess, ServerStartError

    server = ServerProcess(name)
    try:
        with server:
            with urllib.request.urlopen(f"{server.url}/stats", timeout=10) as response:
                stats = json.load(response)
            log = server.log_text()
    except (ServerStartError, OSError, ValueError) as exc:
        return f"does not run here: {getattr(exc, 'reason', '') or exc}"
    if not stats.get("gil_enabled"):
        return "runs, GIL off"
    culprit = _ENABLED_BY.search(log)
    return "runs, GIL ON" + (f" (importing {culprit.group(1)!r} turned it on)" if culprit else "")


def run(args: argparse.Namespace) -> int:
    from servers.gil import free_threaded_build
    from servers.registry import MODELS

    reasons = {name: info.unavailable() for name, info in MODELS.items()}
    probed: dict[str, str] = {}
    if free_threaded_build():
        runnable = [name for name, reason in reasons.items() if reason is None]
        with ThreadPoolExecutor(max_workers=4) as pool:
            probed = dict(zip(runnable, pool.map(probe, runnable), strict=True))
    width = max(map(len, MODELS))
    for info in MODELS.values():
        reason = reasons[info.name]
        note = f" [not here: {reason}]" if reason else ""
        if info.name in probed:
            note = f" [{probed[info.name]}]"
        print(f"{info.name:<{width}}  {info.summary}{note}")
    return 0
