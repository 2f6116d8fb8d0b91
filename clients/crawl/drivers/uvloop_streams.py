"""``uvloop-streams``: the very same streams crawler, on uvloop's libuv-based loop."""

from __future__ import annotations

import uvloop

from clients.crawl.config import CrawlConfig
from clients.crawl.drivers.streams import crawl_on
from clients.crawl.stats import CrawlResult


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl on uvloop."""
    return crawl_on(config, "uvloop-streams", uvloop.new_event_loop)
