"""Scrapy, the crawler a user would pick instead: the same crawl, for comparison.

Run as ``python -m clients.crawl.scrapy_ref URL CONCURRENCY``; prints the same
figures as ``iomodels crawl --json`` (those Scrapy can give). Needs the
``scrapy`` extra (``pip install -e '.[scrapy]'``).
"""

from __future__ import annotations

import json
import sys
from urllib.parse import urlsplit

from clients.crawl.stats import own_peak_rss, url_digest


def crawl(url: str, concurrency: int, timeout: float = 10.0, retries: int = 2) -> dict[str, object]:
    """Crawl ``url`` with Scrapy: same host, links of ``a``/``area``, redirects followed."""
    import scrapy
    from scrapy.crawler import CrawlerProcess
    from scrapy.http import HtmlResponse
    from scrapy.linkextractors import LinkExtractor

    host = urlsplit(url).hostname or ""
    pages: set[str] = set()

    class SiteSpider(scrapy.Spider):
        name = "site"
        allowed_domains = [host]
        start_urls = [url]
        links = LinkExtractor(tags=("a", "area"), attrs=("href",), unique=True)

        def parse(self, response):  # type: ignore[no-untyped-def]
            if not isinstance(response, HtmlResponse):
                return
            pages.add(response.url)
            for link in self.links.extract_links(response):
                yield response.follow(link, callback=self.parse)

    process = CrawlerProcess(
        settings={
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
            "DOWNLOAD_TIMEOUT": timeout,
            "RETRY_TIMES": retries,
            "ROBOTSTXT_OBEY": False,
            "COOKIES_ENABLED": False,
            "TELNETCONSOLE_ENABLED": False,
            "LOG_LEVEL": "ERROR",
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "USER_AGENT": "iomodels-scrapy-reference/0.1",
        }
    )
    crawler = process.create_crawler(SiteSpider)
    process.crawl(crawler)
    process.start()
    stats = crawler.stats.get_stats()
    elapsed = float(stats.get("elapsed_time_seconds", 0.0))
    errors = {
        k.rsplit("/", 1)[-1]: v
        for k, v in stats.items()
        if k.startswith("downloader/response_status_count/4")
    }
    return {
        "crawler": "scrapy",
        "url": url,
        "concurrency": concurrency,
        "pages": len(pages),
        "requests": stats.get("downloader/request_count", 0),
        "retries": stats.get("retry/count", 0),
        "errors": errors,
        "elapsed_s": round(elapsed, 4),
        "pages_per_s": round(len(pages) / elapsed, 2) if elapsed else 0.0,
        "peak_rss_bytes": own_peak_rss(),
        "digest": url_digest(pages),
        "interrupted": False,
    }


if __name__ == "__main__":
    print(json.dumps(crawl(sys.argv[1], int(sys.argv[2]))))
