"""``iomodels crawl``: crawl a site with one of the crawlers and report the figures."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from clients.crawl import CRAWLERS, RENAMED
from clients.crawl.config import CONCURRENCY
from common.argtypes import int_range, one_of, seconds
from common.renamed import add_renamed

#: exit statuses, as ``--help`` lists them
EXIT_OK = 0
EXIT_DIFFERS = 1
EXIT_USAGE = 2
EXIT_NOTHING_FETCHED = 3
EXIT_INTERRUPTED = 130
EXIT_HELP = f"""exit status:
  {EXIT_OK}    the crawl ran (some pages may have failed: see errors)
  {EXIT_DIFFERS}    with --model: the pages crawled differ from the site's reachable pages
  {EXIT_USAGE}    a usage mistake (a bad flag or value)
  {EXIT_NOTHING_FETCHED}    nothing fetched: the root URL could not be fetched (refused, timed out, an HTTP error)
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C): the partial report is printed"""


#: the site ``--model`` serves, by default
SITE_PAGES = 1000
SITE_LATENCY_MS = 10


def crawler_name(text: str) -> str:
    """A registered crawler's name; an old name is refused with its new one."""
    if text in CRAWLERS and text not in RENAMED:
        return text
    now = f" (now {RENAMED[text]!r})" if text in RENAMED else ""
    raise argparse.ArgumentTypeError(
        f"unknown crawler {text!r}{now}; choose from: {', '.join(CRAWLERS)}"
    )


def configure(parser: argparse.ArgumentParser) -> None:
    from clients.crawl.report import fields_help
    from servers.registry import model_names

    parser.epilog = fields_help() + "\n\n" + EXIT_HELP
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    crawlers = ", ".join(CRAWLERS)
    parser.add_argument(
        "--crawler",
        default="asyncio",
        type=crawler_name,
        metavar="CRAWLER",
        help=f"concurrency model: {crawlers} (default asyncio)",
    )
    parser.add_argument(
        "--url", help="root URL to crawl (same host only); or use --model (default: none)"
    )
    parser.add_argument(
        "--model",
        type=one_of(model_names(), "model"),
        metavar="MODEL",
        help="start a server of this IO model on a free port and crawl its /site/ (default: none)",
    )
    add_renamed(parser, "--serve", "--model")
    parser.add_argument(
        "--site-pages",
        type=int_range(0),
        default=SITE_PAGES,
        help=f"with --model: pages of the site (default {SITE_PAGES})",
    )
    parser.add_argument(
        "--site-latency-ms",
        type=int_range(0),
        default=SITE_LATENCY_MS,
        help=f"with --model: wait per page in ms (default {SITE_LATENCY_MS})",
    )
    parser.add_argument(
        "--concurrency",
        "-c",
        type=int_range(0),
        default=CONCURRENCY,
        help=f"requests (and connections) in flight at most (default {CONCURRENCY})",
    )
    parser.add_argument(
        "--max-pages",
        type=int_range(0),
        default=0,
        help="URLs fetched at most, 0 for no limit (default 0)",
    )
    parser.add_argument(
        "--max-depth",
        type=int_range(0),
        default=None,
        help="links followed from the root at most (default: no limit)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        default=10.0,
        help="seconds one request may take, connect to last byte (default 10)",
    )
    parser.add_argument(
        "--retries",
        type=int_range(0),
        default=2,
        help="extra attempts on connection errors, timeouts and 5xx (default 2)",
    )
    parser.add_argument(
        "--backoff",
        type=seconds,
        default=0.2,
        help="seconds before the first retry, doubled each time (default 0.2)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON (default: a table)"
    )
    parser.add_argument(
        "--urls", action="store_true", help="with --json: include the URLs crawled (default: not)"
    )


def run(args: argparse.Namespace) -> int:
    from clients.crawl import UnknownCrawler, load_crawler
    from clients.crawl.config import CrawlConfig

    if bool(args.url) == bool(args.model):
        print("iomodels crawl: error: give exactly one of --url and --model", file=sys.stderr)
        return 2
    if args.concurrency < 1:
        print("iomodels crawl: error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    try:
        driver = load_crawler(args.crawler)
    except UnknownCrawler as exc:
        print(f"iomodels crawl: error: {exc}", file=sys.stderr)
        return 2
    server = _start_server(args) if args.model else None
    try:
        url = f"{server.url}/site/" if server else args.url
        try:
            config = CrawlConfig(
                url=url,
                concurrency=1 if args.crawler == "sequential" else args.concurrency,
                max_pages=args.max_pages,
                max_depth=args.max_depth,
                timeout=args.timeout,
                retries=args.retries,
                backoff=args.backoff,
            )
        except ValueError as exc:
            print(f"iomodels crawl: error: {exc}", file=sys.stderr)
            return 2
        result = driver.crawl(config)
    finally:
        if server is not None:
            server.stop()
    report: dict[str, Any] = result.to_json(with_urls=args.urls)
    complete = not (result.interrupted or args.max_pages or args.max_depth is not None)
    if server is not None and complete:
        report["matches_site"] = _matches_site(args, result.urls, url)
    if args.json:
        print(json.dumps(report))
    else:
        _print_table(report)
    if result.interrupted:
        return EXIT_INTERRUPTED
    if result.pages + result.non_html == 0:
        errors = ", ".join(f"{kind} {n}" for kind, n in result.errors.items()) or "no answer"
        print(f"iomodels crawl: nothing fetched from {url} ({errors})", file=sys.stderr)
        return EXIT_NOTHING_FETCHED
    return EXIT_DIFFERS if report.get("matches_site") is False else EXIT_OK


def _start_server(args: argparse.Namespace):  # -> ServerProcess
    from servers.launcher import ServerProcess

    site = ["--site-pages", str(args.site_pages), "--site-latency-ms", str(args.site_latency_ms)]
    return ServerProcess(args.model, "http", site).start()


def _matches_site(args: argparse.Namespace, urls: list[str], root: str) -> bool:
    """Whether the crawl found exactly the pages the site says are reachable."""
    from servers.protocol.site import Site

    base = root.removesuffix("/site/")
    expected = {base + path for path in Site(args.site_pages).reachable_pages()}
    return set(urls) == expected


def _print_table(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"crawl: {report['crawler']} x{report['concurrency']}", show_header=False)
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    for key, value in report.items():
        if key in ("urls", "crawler", "concurrency"):
            continue
        if key == "errors":
            value = ", ".join(f"{k} {v}" for k, v in value.items()) or "none"
        elif key == "peak_rss_bytes":
            key, value = "peak_rss", f"{value / 2**20:.1f} MiB"
        table.add_row(key, str(value))
    Console().print(table)
