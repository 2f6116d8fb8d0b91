"""The crawl-bench report: the table's loop and client columns, and the loop-or-library split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clients.crawl import CRAWLERS, crawler_names
from clients.crawl.report import (
    C_LOOP,
    LIBRARY,
    LOOP,
    cpu_table,
    loop_or_library,
    made_of,
    table,
    write_report,
)

LEVELS = [1, 10, 100]


PAGES = 1000


def run(crawler: str, concurrency: int, pages_per_s: float, busy: float) -> dict[str, Any]:
    """One crawl-bench run of :data:`PAGES` pages as results.json holds it.

    ``busy`` is its CPU time / its elapsed time.
    """
    elapsed = PAGES / pages_per_s
    return {
        "crawler": crawler,
        "concurrency": concurrency,
        "pages": PAGES,
        "pages_per_s": pages_per_s,
        "elapsed_s": elapsed,
        "cpu_s": elapsed * busy,
        "peak_rss_bytes": 30 * 2**20,
        "digest_ok": True,
        "within_concurrency": True,
    }


def split_runs(busy: float = 1.0) -> list[dict[str, Any]]:
    """CPU-bound at c=100: aiohttp 2,000 pages/s (500 us of CPU a page), streams 2,500 (400),
    uvloop 3,125 (320), generators 3,200 (312.5); at c=10 a quarter of that, mostly waiting."""
    rates = {
        "asyncio": 2_000,
        "asyncio-streams": 2_500,
        "uvloop-streams": 3_125,
        "generators": 3_200,
    }
    runs = [run(name, 10, rate / 4, 0.3) for name, rate in rates.items()]
    return runs + [run(name, 100, rate, busy) for name, rate in rates.items()]


def test_the_pairs_change_one_thing_each() -> None:
    """Library: the same loop, another client. Loop: the same HTTP code, another loop."""
    (a, b), (c, d), (e, f) = LIBRARY, LOOP, C_LOOP
    assert CRAWLERS[a].loop == CRAWLERS[b].loop and CRAWLERS[a].client != CRAWLERS[b].client
    assert CRAWLERS[e].client == CRAWLERS[f].client and CRAWLERS[e].loop != CRAWLERS[f].loop
    assert CRAWLERS[c].loop != CRAWLERS[d].loop
    assert "http1.py" in CRAWLERS[c].client and "http1.py" in CRAWLERS[d].client


@pytest.mark.parametrize("crawler", crawler_names())
def test_every_row_names_its_loop_and_client(crawler: str) -> None:
    text = table([run(crawler, 1, 70.0, 0.05), run(crawler, 10, 700.0, 0.4)], [1, 10])
    loop, client = made_of(crawler)
    row = text.splitlines()[2]
    assert row.startswith(f"| {crawler} | {loop} | {client} | 70 | ")
    assert row.endswith("| ok |")


def test_loop_and_library_add_up_to_the_gap() -> None:
    (line,) = loop_or_library(split_runs(busy=0.9))  # at the most tasks only: c=100
    assert line.startswith("- **Loop or library, at c=100** (CPU time per page")
    assert "each crawler's core was busy 90% to 90% of the crawl" in line
    assert "asyncio + aiohttp 450 us a page (2,000 pages/s)" in line  # 0.9 / 2,000 pages/s
    assert "Of the 169 us a page between aiohttp and the generators" in line
    assert "is +90 us (53%)" in line  # 450 - 360
    assert "HTTP code) +79 us (47%)" in line  # 360 - 281.25
    assert "on uvloop: 288 us a page (3,125 pages/s), 72 us less than on the stdlib loop" in line


def test_no_split_without_the_cpu_times_or_the_streams_crawler() -> None:
    unmeasured = [{k: v for k, v in r.items() if k != "cpu_s"} for r in split_runs()]
    assert loop_or_library(unmeasured) == []
    assert loop_or_library([r for r in split_runs() if r["crawler"] != "asyncio-streams"]) == []


def test_the_split_is_where_the_most_tasks_ran() -> None:
    runs = [
        r for r in split_runs() if not (r["crawler"] == "generators" and r["concurrency"] == 100)
    ]
    (line,) = loop_or_library(runs)  # the generators ran at c=10 only: the split is at c=10
    assert line.startswith("- **Loop or library, at c=10** ")


def test_a_loop_that_costs_more_is_said_so() -> None:
    runs = split_runs()
    for r in runs:
        if r["crawler"] == "uvloop-streams":
            r["cpu_s"] = r["pages"] / 2_000  # 500 us a page: more than asyncio-streams' 400
    (line,) = loop_or_library(runs)
    assert "on uvloop: 500 us a page (3,125 pages/s), 100 us more than on the stdlib loop" in line


def test_cpu_per_page_table() -> None:
    rows = cpu_table(split_runs(), LEVELS).splitlines()
    assert rows[0] == "| crawler | c=1 | c=10 | c=100 |"
    # no run at c=1; at c=10 busy 30% of 2 s for 1,000 pages; at c=100 all of 0.5 s
    assert rows[2] == "| asyncio |  | 600 | 500 |"


def test_the_report_carries_the_split(tmp_path: Path) -> None:
    setup = {"pages": 2000, "latency_ms": 10, "server": "asyncio", "python": "3.11", "cpus": 2}
    text = write_report(tmp_path, {**setup, "levels": [10, 100]}, split_runs())
    assert "| crawler | loop | HTTP client | c=10 | c=100 |" in text
    assert "**Loop or library, at c=100**" in text
    assert "`cpu_s`" in text
    assert "The crawler's CPU time per page" in text
    assert (tmp_path / "pages_per_s.png").stat().st_size > 0


GOLDEN_CRAWL = Path(__file__).parent / "data" / "golden" / "crawl" / "results.json"


def _golden(levels: list[int]) -> dict[str, Any]:
    import json

    doc = json.loads(GOLDEN_CRAWL.read_text())
    doc["setup"]["levels"] = levels
    doc["runs"] = [r for r in doc["runs"] if r["concurrency"] in levels]
    return doc


def test_the_verdict_says_only_what_its_levels_measured() -> None:
    from clients.crawl.report import verdict

    whole = "\n".join(verdict(_golden([1, 10, 100, 500])))
    assert "**Up to a limit.**" in whole
    assert "**A coroutine crawler uses the least memory (generators).**" in whole
    short = "\n".join(verdict(_golden([1, 10])))  # no level to find a limit at
    assert "Up to a limit" not in short
    assert "**A limit is not measured** (it needs two levels above 1)" in short
    assert "Peak memory at c=10: generators" in short  # judged at the level it ran


def test_a_verdict_that_the_runs_do_not_bear_out_says_so() -> None:
    from clients.crawl.report import verdict

    doc = _golden([1, 10, 100, 500])
    for r in doc["runs"]:
        if r["crawler"] == "threads":
            r["peak_rss_bytes"] = 2**20  # the threads now the cheapest
        if r["concurrency"] > 10:
            r["pages_per_s"] = r["pages_per_s"] * r["concurrency"] / 10  # grows with the tasks
    text = "\n".join(verdict(doc))
    assert "**The least memory is not a coroutine crawler's (thread).**" in text
    assert "**No limit within these levels:**" in text and "Up to a limit" not in text
