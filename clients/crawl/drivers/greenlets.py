"""Gevent, from the outside: run :mod:`gevent_child` in a process of its own.

Monkey-patching rewires ``socket``, ``time.sleep``, ``threading``... for the
whole process, so it happens only in that child; this module never imports
gevent. The child prints its result as JSON; Ctrl-C reaches it too (it is in
our process group, and we forward it) and it reports what it had.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from clients.crawl.config import CrawlConfig
from clients.crawl.stats import CrawlResult


class ChildFailed(RuntimeError):
    """The gevent child exited without a result."""


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl with ``config.concurrency`` greenlets in a fresh, patched interpreter."""
    command = [
        sys.executable,
        "-m",
        "clients.crawl.drivers.gevent_child",
        json.dumps(config.to_json()),
    ]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    # Ctrl-C is the child's to handle (it stops and reports what it has): here a SIGINT is
    # only passed on (in case it came to us alone, as `kill -INT <pid>`), never raised, so
    # reading the child's report can never be cut short and lose it.
    previous = signal.signal(signal.SIGINT, lambda signum, frame: child.send_signal(signal.SIGINT))
    try:
        out, _ = child.communicate()
    finally:
        signal.signal(signal.SIGINT, previous)
    if child.returncode != 0 or not out.strip():
        raise ChildFailed(f"gevent crawler exited with {child.returncode}")
    return CrawlResult.from_json(json.loads(out))
