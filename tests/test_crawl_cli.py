"""``iomodels crawl`` as a user runs it: argument errors, --model, old names, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from clients.crawl import crawler_names
from servers.launcher import ServerProcess
from tests.helpers import wait_until

CRAWL = [sys.executable, "-m", "iomodels", "crawl"]


def test_url_or_model_but_not_both() -> None:
    both = subprocess.run(
        [*CRAWL, "--url", "http://127.0.0.1:1/", "--model", "asyncio"],
        capture_output=True,
        text=True,
    )
    assert both.returncode == 2 and "exactly one of --url and --model" in both.stderr
    unknown = subprocess.run(
        [*CRAWL, "--crawler", "telepathy", "--url", "http://x/"], capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "unknown crawler 'telepathy'" in unknown.stderr


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["crawl", "--serve", "thread"], "--serve is now --model"),
        (["crawl", "--crawler", "threads", "--url", "http://x/"], "'threads' (now 'thread')"),
        (["crawl-bench", "--server", "thread"], "--server is now --model"),
        (["crawl-bench", "--pages", "10"], "--pages is now --site-pages"),
        (["crawl-bench", "--latency-ms", "1"], "--latency-ms is now --site-latency-ms"),
    ],
)
def test_an_old_name_is_refused_naming_the_new_one(argv: list[str], says: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "iomodels", *argv], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert says in proc.stderr.strip().splitlines()[-1]


def test_old_results_name_the_thread_crawler_by_its_new_name() -> None:
    from clients.crawl import current_name

    assert "thread" in crawler_names() and "threads" not in crawler_names()
    assert current_name("threads") == "thread" and current_name("asyncio") == "asyncio"


def test_crawl_and_make_crawl_share_one_concurrency_default() -> None:
    from clients.crawl.config import CONCURRENCY, CrawlConfig
    from iomodels.cli import command_parser

    assert command_parser("crawl").parse_args([]).concurrency == CONCURRENCY
    assert CrawlConfig("http://x/").concurrency == CONCURRENCY
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    assert f"CONCURRENCY     ?= {CONCURRENCY}\n" in makefile


def test_serve_checks_the_crawl_against_the_site() -> None:
    args = "--crawler generators --model thread --site-pages 80 --site-latency-ms 1 --json"
    proc = subprocess.run([*CRAWL, *args.split()], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert (
        report["matches_site"] is True
        and report["pages"] == 80
        and report["crawler"] == "generators"
    )


def test_unreachable_root_is_an_error_not_a_crash() -> None:
    args = "--crawler thread --url http://127.0.0.1:9/ --retries 1 --backoff 0.01 --json"
    proc = subprocess.run([*CRAWL, *args.split()], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr  # nothing fetched: a script can tell
    report = json.loads(proc.stdout)
    assert (report["pages"], report["requests"], report["errors"]) == (0, 2, {"connection": 1})


def _requests_so_far(server: ServerProcess) -> int:
    with urllib.request.urlopen(f"{server.url}/stats", timeout=10) as resp:
        return int(json.load(resp)["requests_total"])


@pytest.mark.parametrize("crawler", crawler_names())
def test_ctrl_c_stops_with_a_partial_report(
    crawler: str, start_server: Callable[..., ServerProcess]
) -> None:
    server = start_server("asyncio", args=["--site-pages", "3000", "--site-latency-ms", "20"])
    command = [
        *CRAWL,
        "--crawler",
        crawler,
        "--url",
        f"{server.url}/site/",
        "--concurrency",
        "3",
        "--json",
    ]
    # a session of its own, so the SIGINT below reaches the crawler's whole process group, as Ctrl-C does
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        wait_until(
            lambda: _requests_so_far(server) >= 20 or proc.poll() is not None,
            60,
            interval=0.05,
            what="the crawl under way",
        )
        assert proc.poll() is None, "the crawl ended before Ctrl-C"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert report["interrupted"] is True
    assert 0 < report["pages"] < 3000
    assert "matches_site" not in report
