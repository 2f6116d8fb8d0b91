"""Every crawler against a real server's /site/: the same pages, the same figures, never over N.

The asyncio crawler runs in async tests, once on each event loop; the others through ``crawl()``.
"""

from __future__ import annotations

import json
import urllib.request
from collections import deque
from collections.abc import Callable

import pytest

from clients.crawl import load_crawler
from clients.crawl.config import CrawlConfig
from clients.crawl.stats import CrawlResult, url_digest
from servers.launcher import ServerProcess
from servers.protocol.site import Site
from tests.helpers import SYNC_CRAWLERS, crawl_on_this_loop

PAGES = 150
SITE_ARGS = ["--site-pages", str(PAGES), "--site-latency-ms", "2"]


def expected_crawl(site: Site) -> dict[str, int]:
    """What a correct crawler meets on the site: distinct URLs of each kind, found by BFS."""
    kinds = {"page": 0, "redirect": 0, "missing": 0, "file": 0}
    seen = {"/site/"}
    queue = deque(["/site/"])
    while queue:
        path = queue.popleft()
        targets: list[str] = []
        if path.startswith("/site/rr/"):
            kinds["redirect"] += 1
            targets = ["/site/r/" + path.rsplit("/", 1)[1]]
        elif path.startswith("/site/r/"):
            kinds["redirect"] += 1
            number = int(path.rsplit("/", 1)[1])
            targets = ["/site/" if number == 0 else f"/site/{number}"]
        elif path.startswith("/site/missing/"):
            kinds["missing"] += 1
        elif path.startswith("/site/files/"):
            kinds["file"] += 1
        else:
            kinds["page"] += 1
            number = 0 if path == "/site/" else int(path.rsplit("/", 1)[1])
            for href in site.links(number):
                href = href.partition("#")[0]
                if href.startswith(("http:", "mailto:")):
                    continue
                targets.append(href if href.startswith("/") else "/site/" + href)
        for target in targets:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return kinds


def server_stats(server: ServerProcess) -> dict[str, int]:
    with urllib.request.urlopen(f"{server.url}/stats", timeout=10) as resp:
        return json.load(resp)


def check_whole_site(result: CrawlResult, server: ServerProcess, concurrency: int) -> None:
    """The crawl found every URL of the site, each fetched once, never over ``concurrency``."""
    site = Site(PAGES)
    expected = expected_crawl(site)
    assert result.digest == url_digest(site.reachable_pages())
    assert result.pages == len(site.reachable_pages()) == expected["page"]
    assert result.redirects == expected["redirect"]
    assert result.non_html == expected["file"]
    assert result.errors == {"http_404": expected["missing"]}
    assert result.retries == 0
    assert result.requests == sum(expected.values())
    assert not result.interrupted
    assert result.peak_rss_bytes > 0 and result.cpu_s > 0
    # requests_total includes this /stats request; connections_peak is the peak of open ones
    stats = server_stats(server)
    assert stats["requests_total"] == result.requests + 1
    assert 1 <= stats["connections_peak"] <= concurrency


@pytest.mark.parametrize("crawler", SYNC_CRAWLERS)
def test_every_crawler_finds_the_site_within_its_concurrency(
    crawler: str, start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server("asyncio", args=SITE_ARGS)
    concurrency = 1 if crawler == "sequential" else 4
    result = load_crawler(crawler).crawl(
        CrawlConfig(f"{server.url}/site/", concurrency=concurrency)
    )
    check_whole_site(result, server, concurrency)


@pytest.mark.asyncio
async def test_the_asyncio_crawler_finds_the_site_on_each_loop(
    start_server: Callable[..., ServerProcess],
) -> None:
    server = start_server("asyncio", args=SITE_ARGS)
    result = await crawl_on_this_loop(CrawlConfig(f"{server.url}/site/", concurrency=4))
    check_whole_site(result, server, 4)


def check_limits(server: ServerProcess, shallow: CrawlResult, capped: CrawlResult) -> None:
    """``shallow`` (max_depth=1) found the root's direct pages; ``capped`` stopped at 20."""
    direct = {
        href for href in Site(PAGES).links(0) if href.startswith("/site/") and href[6:].isdigit()
    }
    assert set(shallow.urls) == {server.url + path for path in {"/site/", *direct}}
    assert capped.requests == 20
    assert 0 < capped.pages <= 20
    assert capped.dropped > 0


@pytest.mark.parametrize("crawler", ["sequential", "generators"])
def test_max_depth_and_max_pages(crawler: str, start_server: Callable[..., ServerProcess]) -> None:
    server = start_server("asyncio", args=SITE_ARGS)
    root = f"{server.url}/site/"
    driver = load_crawler(crawler)
    shallow = driver.crawl(CrawlConfig(root, concurrency=3, max_depth=1))
    capped = driver.crawl(CrawlConfig(root, concurrency=3, max_pages=20))
    check_limits(server, shallow, capped)


@pytest.mark.asyncio
async def test_max_depth_and_max_pages_asyncio(start_server: Callable[..., ServerProcess]) -> None:
    server = start_server("asyncio", args=SITE_ARGS)
    root = f"{server.url}/site/"
    shallow = await crawl_on_this_loop(CrawlConfig(root, concurrency=3, max_depth=1))
    capped = await crawl_on_this_loop(CrawlConfig(root, concurrency=3, max_pages=20))
    check_limits(server, shallow, capped)
