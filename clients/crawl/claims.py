"""The crawl-bench's claims, each measured from its results and judged once.

The crawl report's verdict (:func:`clients.crawl.report.verdict`) and the
crawl rows of ``docs/claims.zh.md`` (:mod:`clients.bench.claims_zh`) both read
these verdicts: neither states a claim its own runs do not bear out. Each
function takes a crawl-bench results.json (as a dict) and returns a
:class:`CrawlVerdict`, or None when the runs cannot answer it (too few levels,
a crawler missing).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from clients.crawl import CRAWLERS, current_name

Runs = list[dict[str, Any]]

#: ``many-tasks``: the best crawler at the lowest level above 1 against the sequential crawl
MANY_TASKS_GAIN = 5
#: the coroutine crawlers whose CPU per page is held against the threads'
CPU_COROUTINES = ("asyncio", "asyncio-streams", "uvloop-streams", "generators")


@dataclass(frozen=True)
class CrawlVerdict:
    """A crawl claim in numbers.

    Attributes:
        id: the claim's name.
        holds: whether the runs bear it out (None: reported, not judged).
        numbers: the figures it was judged from, by name (the Chinese page's templates use them).
        limited: it holds only under a condition (the claim's docstring says which).
    """

    id: str
    holds: bool | None
    numbers: dict[str, Any] = field(default_factory=dict)
    limited: bool = False


def measured(doc: dict[str, Any]) -> Runs:
    """The crawls that fetched something, each under its crawler's current name."""
    return [
        {**r, "crawler": current_name(r["crawler"])} for r in doc["runs"] if r.get("pages_per_s")
    ]


def coroutine(crawler: str) -> bool:
    """The crawler's workers are coroutines or greenlets on one thread (not threads, not processes)."""
    info = CRAWLERS.get(crawler)
    return info is not None and info.loop != "none" and not info.loop.startswith("the kernel")


def rate(runs: Sequence[dict[str, Any]], crawler: str, level: int) -> float | None:
    """Pages/s of ``crawler`` at ``level`` (None: not measured)."""
    return next(
        (r["pages_per_s"] for r in runs if r["crawler"] == crawler and r["concurrency"] == level),
        None,
    )


def cpu_us_per_page(run: dict[str, Any]) -> float:
    """The crawler's CPU time per page fetched, in microseconds."""
    return float(run["cpu_s"]) / run["pages"] * 1e6


def split_level(runs: Runs, names: Sequence[str]) -> int | None:
    """The most tasks at which every crawler of ``names`` has its CPU time (None: no such level)."""
    have = {(r["crawler"], r["concurrency"]) for r in runs if r.get("cpu_s") and r.get("pages")}
    levels = {r["concurrency"] for r in runs}
    return max((lv for lv in levels if all((n, lv) in have for n in names)), default=None)


def _ours(runs: Runs) -> Runs:
    return [r for r in runs if r["crawler"] in CRAWLERS and r["crawler"] != "sequential"]


def _best(runs: Runs, level: int) -> float:
    return max((r["pages_per_s"] for r in _ours(runs) if r["concurrency"] == level), default=0.0)


def many_tasks(doc: dict[str, Any]) -> CrawlVerdict | None:
    """Many tasks help IO-bound work: at the lowest level above 1, the best crawler's pages/s
    is :data:`MANY_TASKS_GAIN` times the sequential crawl's or more."""
    runs = measured(doc)
    base = rate(runs, "sequential", 1)
    levels = sorted({r["concurrency"] for r in runs if r["concurrency"] > 1})
    if base is None or not levels:
        return None
    mid = levels[0]
    numbers = {"io_base": base, "io_mid": mid, "io_mid_best": _best(runs, mid)}
    numbers["io_mid_gain"] = numbers["io_mid_best"] / base
    return CrawlVerdict("many-tasks", numbers["io_mid_gain"] >= MANY_TASKS_GAIN, numbers)


def up_to_a_limit(doc: dict[str, Any]) -> CrawlVerdict | None:
    """Up to a limit: from the lowest level above 1 to the highest, the best pages/s grows by
    less than half as much as the tasks do. Needs two levels above 1."""
    runs = measured(doc)
    levels = sorted({r["concurrency"] for r in runs if r["concurrency"] > 1})
    base = rate(runs, "sequential", 1)
    if base is None or len(levels) < 2:
        return None
    mid, prev, top = levels[0], levels[-2], levels[-1]
    ours = _ours(runs)
    peaked = [
        name
        for name in dict.fromkeys(r["crawler"] for r in ours)
        if (now := rate(ours, name, top)) is not None
        and (before := rate(ours, name, prev)) is not None
        and now < before
    ]
    growth = _best(runs, top) / _best(runs, mid) if _best(runs, mid) else 0.0
    numbers = {
        "io_prev": prev,
        "io_top": top,
        "io_top_best": _best(runs, top),
        "io_top_gain": _best(runs, top) / base,
        "io_top_growth": growth,
        "io_peaked": peaked,
        "io_threads": rate(ours, "thread", top) or 0.0,
    }
    return CrawlVerdict("up-to-a-limit", growth < 0.5 * top / mid, numbers)


def least_memory(doc: dict[str, Any]) -> CrawlVerdict | None:
    """A coroutine crawler uses the least memory at the most tasks (peak RSS). Needs one
    coroutine crawler and one other at that level."""
    runs = [r for r in measured(doc) if r.get("peak_rss_bytes")]
    if not runs:
        return None
    top = max(r["concurrency"] for r in runs)
    rss = {r["crawler"]: r["peak_rss_bytes"] for r in runs if r["concurrency"] == top}
    kinds = {coroutine(name) for name in rss}
    if kinds != {True, False}:
        return None
    ranked = sorted(rss.items(), key=lambda kv: kv[1])
    return CrawlVerdict("least-memory", coroutine(ranked[0][0]), {"top": top, "ranked": ranked})


def coroutine_speed(doc: dict[str, Any]) -> CrawlVerdict | None:
    """Coroutines spend less CPU a page than threads, at the most tasks all of them ran.

    It holds when every crawler of :data:`CPU_COROUTINES` does; when only some do (the
    generators among them), it holds with a limit.
    """
    runs = measured(doc)
    needed = ("thread", *CPU_COROUTINES)
    level = split_level(runs, needed)  # the most tasks: where the crawler's own CPU counts most
    if level is None:
        return None
    at = {r["crawler"]: r for r in runs if r["concurrency"] == level and r["crawler"] in needed}
    us = {name: cpu_us_per_page(at[name]) for name in needed}
    pages = {name: at[name]["pages_per_s"] for name in needed}
    library = us["asyncio"] - us["asyncio-streams"]
    loop = us["asyncio-streams"] - us["generators"]
    gap = library + loop
    numbers = {
        "cs_level": level,
        "cs_threads": pages["thread"],
        "cs_aiohttp": pages["asyncio"],
        "cs_streams": pages["asyncio-streams"],
        "cs_uvloop": pages["uvloop-streams"],
        "cs_gen": pages["generators"],
        "cs_threads_us": us["thread"],
        "cs_aiohttp_us": us["asyncio"],
        "cs_streams_us": us["asyncio-streams"],
        "cs_uvloop_us": us["uvloop-streams"],
        "cs_gen_us": us["generators"],
        "cs_gap_us": gap,
        "cs_library_us": library,
        "cs_loop_us": loop,
        "cs_library_share": library / gap if gap else 0.0,
        "cs_loop_share": loop / gap if gap else 0.0,
    }
    if all(us[name] < us["thread"] for name in CPU_COROUTINES):
        return CrawlVerdict("coroutine-speed", True, numbers)
    return CrawlVerdict("coroutine-speed", us["generators"] < us["thread"], numbers, limited=True)


def generator_crawl(doc: dict[str, Any]) -> CrawlVerdict | None:
    """The generator coroutines crawl the same pages as gevent's and asyncio's (equal digests)."""
    runs = [{**r, "crawler": current_name(r["crawler"])} for r in doc["runs"]]
    numbers: dict[str, Any] = {}
    same = True
    for name, field_name in (
        ("generators", "gc_best"),
        ("gevent", "gc_gevent"),
        ("asyncio", "gc_asyncio"),
    ):
        mine = [r for r in runs if r["crawler"] == name]
        if not any(r.get("pages_per_s") for r in mine):
            return None
        top = max(mine, key=lambda r: r.get("pages_per_s") or 0)
        numbers[field_name] = top["pages_per_s"]
        if name == "generators":
            numbers["gc_level"] = top["concurrency"]
        same = same and all(r.get("digest_ok") for r in mine)
    return CrawlVerdict("generator-crawl", same, numbers)


CRAWL_CLAIMS: dict[str, Callable[[dict[str, Any]], CrawlVerdict | None]] = {
    "many-tasks": many_tasks,
    "up-to-a-limit": up_to_a_limit,
    "least-memory": least_memory,
    "coroutine-speed": coroutine_speed,
    "generator-crawl": generator_crawl,
}


def judge(doc: dict[str, Any]) -> dict[str, CrawlVerdict]:
    """Every crawl claim the results answer, by id."""
    checked = {name: claim(doc) for name, claim in CRAWL_CLAIMS.items()}
    return {name: v for name, v in checked.items() if v is not None}
