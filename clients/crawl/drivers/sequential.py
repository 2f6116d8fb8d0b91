"""The baseline: one connection, one request at a time, a plain deque (http.client)."""

from __future__ import annotations

import time
from collections import deque

from clients.crawl.blocking_http import BlockingClient
from clients.crawl.config import CrawlConfig
from clients.crawl.core import Crawl
from clients.crawl.stats import CrawlResult, own_peak_rss


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl with no concurrency at all (``config.concurrency`` is ignored: it is 1)."""
    core = Crawl(config, "sequential")
    client = BlockingClient(config)
    queue = deque(core.start())
    started = time.perf_counter()
    interrupted = False
    try:
        while queue:
            job = queue.popleft()
            queue.extend(core.record(job, client.fetch(job)))
    except KeyboardInterrupt:
        interrupted = True
    finally:
        client.close()
    return core.result(time.perf_counter() - started, own_peak_rss(), interrupted)
