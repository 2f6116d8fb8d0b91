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
    try:
        out, _ = child.communicate()
    except KeyboardInterrupt:
        try:  # Ctrl-C reached the child too: it stops and reports
            out, _ = child.communicate(timeout=1.0)
        except subprocess.TimeoutExpired:  # the signal came to us alone (kill -INT <pid>)
            child.send_signal(signal.SIGINT)
            out, _ = child.communicate()
    if child.returncode != 0 or not out.strip():
        raise ChildFailed(f"gevent crawler exited with {child.returncode}")
    return CrawlResult.from_json(json.loads(out))
