"""``iomodels crawl-bench`` (``make crawl-bench``): every crawler at several concurrencies against the same site.

Each run gets a fresh server (so its ``connections_peak`` is that run's) pinned to
the last CPU, and a fresh crawler process pinned to the first: one core each.
Every run is checked: same digest as the site's reachable pages, never more
connections than asked. Writes ``results/crawl-<timestamp>/`` (JSON, report, chart).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from clients.crawl import crawler_names
from clients.crawl.stats import url_digest
from common.argtypes import JoinLists, add_names_argument, int_range, one_of
from common.renamed import add_renamed
from reporting import provenance
from servers.launcher import ServerProcess
from servers.protocol.site import Site

RUN_TIMEOUT_S = 600
DEFAULT_LEVELS = [1, 10, 100, 500]
#: the flags' old names (refused, naming the new ones): one name per thing across crawl and crawl-bench
RENAMED_FLAGS = {
    "--server": "--model",
    "--pages": "--site-pages",
    "--latency-ms": "--site-latency-ms",
}


def _cpus() -> tuple[list[int] | None, list[int] | None]:
    cpus = sorted(os.sched_getaffinity(0))
    return ([cpus[0]], [cpus[-1]]) if len(cpus) >= 2 else (None, None)


def _have_scrapy() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import scrapy"], capture_output=True)
    return probe.returncode == 0


def run_one(crawler: str, concurrency: int, args: argparse.Namespace) -> dict[str, Any]:
    """One crawl against a fresh server; the crawler's JSON plus the checks."""
    client_cpus, server_cpus = _cpus()
    site = ["--site-pages", str(args.site_pages), "--site-latency-ms", str(args.site_latency_ms)]
    with ServerProcess(args.model, "http", site, cpus=server_cpus) as server:
        url = f"{server.url}/site/"
        if crawler == "scrapy":
            command = [sys.executable, "-m", "clients.crawl.scrapy_ref", url, str(concurrency)]
        else:
            command = [
                sys.executable,
                "-m",
                "iomodels",
                "crawl",
                "--crawler",
                crawler,
                "--url",
                url,
                "--concurrency",
                str(concurrency),
                "--json",
            ]
        started = time.perf_counter()
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            preexec_fn=(lambda: os.sched_setaffinity(0, client_cpus)) if client_cpus else None,
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            return {"crawler": crawler, "concurrency": concurrency, "failed": proc.stderr[-2000:]}
        result = json.loads(proc.stdout)
        with urllib.request.urlopen(f"{server.url}/stats", timeout=10) as resp:
            stats = json.load(resp)
    result["wall_s"] = round(wall, 3)
    result["connections_peak"] = stats["connections_peak"]
    result["digest_ok"] = result["digest"] == url_digest(Site(args.site_pages).reachable_pages())
    result["within_concurrency"] = stats["connections_peak"] <= concurrency
    return result


def configure(parser: argparse.ArgumentParser) -> None:
    """The ``iomodels crawl-bench`` flags."""
    from servers.registry import model_names

    parser.epilog = (
        "exit status: 0 every run crawled the whole site within its concurrency; "
        "1 a run failed or differed; 2 a usage mistake; 130 interrupted"
    )
    parser.add_argument(
        "--model",
        type=one_of(model_names(), "model"),
        default="asyncio",
        metavar="MODEL",
        help="the IO model of the server crawled (default asyncio)",
    )
    parser.add_argument(
        "--site-pages",
        type=int_range(1, 1_000_000),
        default=2000,
        help="pages of the site (default 2000)",
    )
    parser.add_argument(
        "--site-latency-ms",
        type=int_range(0, 10_000),
        default=10,
        help="wait per page in ms (default 10)",
    )
    for old, new in RENAMED_FLAGS.items():
        add_renamed(parser, old, new)
    parser.add_argument(
        "--concurrency",
        nargs="+",
        type=_levels,
        action=JoinLists,
        metavar="N",
        help="concurrency levels, separated by spaces or commas (default: 1 10 100 500)",
    )
    add_names_argument(parser, "--crawlers", crawler_names(), "crawler", help="crawlers to run")
    parser.add_argument(
        "--no-scrapy", action="store_true", help="leave Scrapy out (default: in, when installed)"
    )
    parser.add_argument(
        "--out", default="results", help="parent folder of the report (default results)"
    )


def _levels(text: str) -> list[int]:
    parse = int_range(1, 10_000)
    return [parse(part) for part in text.replace(",", " ").split()]


def run(args: argparse.Namespace) -> int:
    """Every crawler at every level, holding the bench lock; 0 if every run checked out."""
    from common.bench_lock import bench_lock

    with bench_lock("iomodels crawl-bench"):
        return _bench(args)


def _bench(args: argparse.Namespace) -> int:
    levels = args.concurrency or DEFAULT_LEVELS
    crawlers = list(args.crawlers)
    if not args.no_scrapy:
        if _have_scrapy():
            crawlers.append("scrapy")
        else:
            print(
                "crawl-bench: scrapy is not installed (pip install -e '.[scrapy]'): left out",
                file=sys.stderr,
            )
    out = Path(args.out) / time.strftime("crawl-%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for crawler in crawlers:
        for concurrency in levels:
            if crawler == "sequential" and concurrency != 1:
                continue
            run = run_one(crawler, concurrency, args)
            runs.append(run)
            shown = run.get("pages_per_s", "FAILED")
            print(
                f"{crawler:>11} x{concurrency:<4} {shown:>9} pages/s  digest_ok={run.get('digest_ok')}",
                flush=True,
            )
    setup = {
        "provenance": provenance.describe().to_dict(),
        "server": args.model,
        "pages": args.site_pages,
        "latency_ms": args.site_latency_ms,
        "levels": levels,
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    (out / "results.json").write_text(json.dumps({"setup": setup, "runs": runs}, indent=1))

    from clients.crawl.report import write_report

    report = write_report(out, setup, runs)
    print(report)
    print(f"\nreport: {out / 'report.md'}")
    return 0 if all(r.get("digest_ok") and r.get("within_concurrency") for r in runs) else 1
