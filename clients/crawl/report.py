"""The crawl-bench report: where it comes from, a table, a chart of pages/s against concurrency,
the verdict, and what each figure of a crawl means (:data:`FIELDS`, also ``iomodels crawl --help``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from clients.crawl import CRAWLERS
from clients.crawl.claims import MANY_TASKS_GAIN, cpu_us_per_page, judge, split_level
from reporting.charts import line_chart
from reporting.provenance import Provenance, markdown_lines

Runs = list[dict[str, Any]]

#: every figure of a crawl's result (``iomodels crawl`` prints them; crawl-bench keeps them in results.json)
FIELDS: dict[str, str] = {
    "pages": "HTML pages fetched (2xx, text/html): the crawl's product",
    "requests": "HTTP requests sent, retries included",
    "retries": "requests sent again after a connection error, a timeout or a 5xx",
    "redirects": "3xx answers followed (in scope, within the hop limit)",
    "non_html": "2xx answers that were not HTML (not parsed for links)",
    "offsite": "links and redirects leading outside the root's scope (not followed)",
    "dropped": "new in-scope URLs left out because --max-pages or --max-depth was reached",
    "bytes": "response body bytes received (the last attempt of each fetch; headers not counted)",
    "errors": "failed fetches by kind: http_<status>, timeout, connection, protocol, too_large...",
    "elapsed_s": "wall time of the crawl, from its start to its end",
    "pages_per_s": "pages / elapsed_s",
    "cpu_s": "CPU time (user + system) the crawl took: its process, and its workers where it forks",
    "peak_rss_bytes": "peak resident memory of the crawler (its processes summed where it forks)",
    "digest": "a digest of the set of pages' paths: equal digests, equal crawls",
    "interrupted": "true when Ctrl-C (SIGINT) cut the crawl short: the figures cover what was done",
    "matches_site": "(--model only) the pages are exactly the site's reachable pages",
}


#: what crawl-bench adds to each crawl's result in its results.json
BENCH_FIELDS: dict[str, str] = {
    "wall_s": "wall time of the crawler's process, start-up included",
    "connections_peak": "the most connections the server had open at once (a fresh server per crawl)",
    "digest_ok": "the digest is the site's reachable pages' own: the whole site, nothing else",
    "within_concurrency": "connections_peak <= the concurrency asked",
}


def fields_help() -> str:
    """:data:`FIELDS` as plain text, one figure a line (the ``--help`` epilog)."""
    width = max(map(len, FIELDS))
    return "figures of a crawl:\n" + "\n".join(
        f"  {name:<{width}}  {text}" for name, text in FIELDS.items()
    )


def _cell(runs: Runs, crawler: str, level: int, key: str = "pages_per_s") -> Any:
    for run in runs:
        if run["crawler"] == crawler and run["concurrency"] == level:
            return run.get(key)
    return None


#: Scrapy's loop and client (not a registered crawler: the reference crawl-bench adds)
SCRAPY = ("Twisted's reactor", "Scrapy")


def made_of(crawler: str) -> tuple[str, str]:
    """The crawler's loop and HTTP client, as the registry gives them."""
    info = CRAWLERS.get(crawler)
    if info is None:
        return SCRAPY if crawler == "scrapy" else ("?", "?")
    return info.loop, info.client


def table(runs: Runs, levels: list[int]) -> str:
    """Pages/s per crawler (rows) and concurrency (columns), then peak RSS at the top level.

    Each row names the crawler's loop and HTTP client: two rows that share one
    of the two compare the other.
    """
    crawlers = list(dict.fromkeys(run["crawler"] for run in runs))
    top = levels[-1]
    head = (
        "| crawler | loop | HTTP client | "
        + " | ".join(f"c={c}" for c in levels)
        + f" | peak RSS at c={top} | checks |"
    )
    lines = [head, "| --- | --- | --- |" + " ---: |" * (len(levels) + 1) + " --- |"]
    for crawler in crawlers:
        cells = []
        for level in levels:
            value = _cell(runs, crawler, level)
            cells.append(
                ""
                if value is None and crawler == "sequential"
                else f"{value:,.0f}"
                if value
                else "failed"
            )
        mine = [r for r in runs if r["crawler"] == crawler]
        top_run = max(mine, key=lambda r: r["concurrency"])
        rss = top_run.get("peak_rss_bytes")
        rss_text = f"{rss / 2**20:,.0f} MiB" if rss else "?"
        ok = all(r.get("digest_ok") and r.get("within_concurrency") for r in mine)
        loop, client = made_of(crawler)
        lines.append(
            f"| {crawler} | {loop} | {client} | "
            + " | ".join(cells)
            + f" | {rss_text} (c={top_run['concurrency']}) | {'ok' if ok else 'FAILED'} |"
        )
    return "\n".join(lines)


def cpu_table(runs: Runs, levels: list[int]) -> str:
    """The crawler's CPU time per page (us) per crawler and concurrency: the figure that load elsewhere moves least."""
    crawlers = [
        c
        for c in dict.fromkeys(r["crawler"] for r in runs)
        if any(r["crawler"] == c and r.get("cpu_s") and r.get("pages") for r in runs)
    ]
    lines = [
        "| crawler | " + " | ".join(f"c={c}" for c in levels) + " |",
        "| --- |" + " ---: |" * len(levels),
    ]
    for crawler in crawlers:
        at = {
            r["concurrency"]: r
            for r in runs
            if r["crawler"] == crawler and r.get("cpu_s") and r.get("pages")
        }
        cells = [f"{cpu_us_per_page(at[lv]):,.0f}" if lv in at else "" for lv in levels]
        lines.append(f"| {crawler} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: the crawlers that split the coroutines' cost into loop and library, and what each pair changes
LIBRARY = ("asyncio", "asyncio-streams")  # aiohttp against http1.py, both on asyncio
LOOP = ("asyncio-streams", "generators")  # asyncio streams against handloop, both with http1.py
C_LOOP = ("asyncio-streams", "uvloop-streams")  # the same code on asyncio and on uvloop


def busy(run: dict[str, Any]) -> float | None:
    """The share of the crawl's time its process spent on a CPU (None if not recorded)."""
    cpu, elapsed = run.get("cpu_s"), run.get("elapsed_s")
    return cpu / elapsed if cpu is not None and elapsed else None


def _part(us: float, total: float) -> str:
    share = f" ({us / total:.0%})" if total > 0 and 0 <= us <= total else ""
    return f"{us:+,.0f} us{share}"


def loop_or_library(runs: Runs) -> list[str]:
    """Where the coroutines' cost comes from, at the most tasks: one line, or none without the figures.

    CPU times per page add up: aiohttp's to the generators' is the library
    (aiohttp to http1.py over streams, the same loop) plus the loop (asyncio
    streams to sockets on handloop, the same HTTP code). Where the crawler's
    core was busy all along, that CPU time is what sets its pages/s.
    """
    level = split_level(runs, (*LIBRARY, *LOOP))
    if level is None:
        return []
    names = {*LIBRARY, *LOOP, *C_LOOP}
    at = {r["crawler"]: r for r in runs if r["concurrency"] == level and r["crawler"] in names}
    rate = {name: run["pages_per_s"] for name, run in at.items()}
    us = {name: cpu_us_per_page(run) for name, run in at.items() if run.get("cpu_s")}
    shares = [share for name in dict.fromkeys((*LIBRARY, *LOOP)) if (share := busy(at[name]))]
    library = us["asyncio"] - us["asyncio-streams"]
    loop = us["asyncio-streams"] - us["generators"]
    total = library + loop
    text = (
        f"- **Loop or library, at c={level}** (CPU time per page, `cpu_s` / pages; each crawler's "
        f"core was busy {min(shares):.0%} to {max(shares):.0%} of the crawl, and where it is near "
        "100% that time sets the pages/s): "
        f"asyncio + aiohttp {us['asyncio']:,.0f} us a page ({rate['asyncio']:,.0f} pages/s), "
        f"asyncio-streams {us['asyncio-streams']:,.0f} us ({rate['asyncio-streams']:,.0f}), "
        f"generators on handloop {us['generators']:,.0f} us ({rate['generators']:,.0f}). "
        f"Of the {total:,.0f} us a page between aiohttp and the generators, the library "
        f"(aiohttp against http1.py over asyncio streams, both on asyncio) is {_part(library, total)}, "
        f"the loop (asyncio's tasks and streams against generators on handloop, the same "
        f"HTTP code) {_part(loop, total)}."
    )
    if "uvloop-streams" in us:
        gain = us["asyncio-streams"] - us["uvloop-streams"]
        text += (
            f" The same streams crawler on uvloop: {us['uvloop-streams']:,.0f} us a page "
            f"({rate['uvloop-streams']:,.0f} pages/s), {abs(gain):,.0f} us "
            f"{'less' if gain >= 0 else 'more'} than on the stdlib loop."
        )
    return [text]


def verdict(doc: dict[str, Any]) -> list[str]:
    """The crawl claims (:mod:`clients.crawl.claims`), each line saying what its runs bear out."""
    runs, setup = doc["runs"], doc["setup"]
    levels, checked = setup["levels"], judge(doc)
    lines = []
    base = _cell(runs, "sequential", 1) or 0
    best = {
        c: max(
            (r for r in runs if r["crawler"] == c and r.get("pages_per_s")),
            key=lambda r: r["pages_per_s"],
        )
        for c in dict.fromkeys(r["crawler"] for r in runs)
        if any(r["crawler"] == c and r.get("pages_per_s") for r in runs)
    }
    many = checked.get("many-tasks")
    if base and many is not None:
        gains = ", ".join(
            f"{c} x{b['pages_per_s'] / base:.1f} (at c={b['concurrency']})"
            for c, b in best.items()
            if c != "sequential"
        )
        title = (
            "Many tasks help IO-bound work."
            if many.holds
            else f"Many tasks did not help here (less than {MANY_TASKS_GAIN}x the sequential "
            f"crawl at c={many.numbers['io_mid']})."
        )
        lines.append(
            f"- **{title}** Against the sequential baseline ({base:,.0f} pages/s, "
            f"bound by {setup['latency_ms']} ms a page), the best figure of each crawler: {gains}."
        )
    limits = []
    for crawler, top in best.items():
        if crawler == "sequential":
            continue
        higher = [lv for lv in levels if lv > top["concurrency"]]
        if higher:
            after = _cell(runs, crawler, higher[-1]) or 0
            limits.append(
                f"{crawler} peaks at c={top['concurrency']} ({top['pages_per_s']:,.0f}/s; {after:,.0f}/s at c={higher[-1]})"
            )
        else:
            limits.append(
                f"{crawler} still grows at c={top['concurrency']} ({top['pages_per_s']:,.0f}/s)"
            )
    limit = checked.get("up-to-a-limit")
    if limits:
        if limit is None:
            head, why = "A limit is not measured", " (it needs two levels above 1):"
        elif limit.holds:
            head = "Up to a limit."
            why = " Once the waits overlap, the client's CPU (one core) is the bottleneck:"
        else:
            head, why = "No limit within these levels:", " pages/s grew about as fast as the tasks:"
        lines.append(f"- **{head}**{why} " + "; ".join(limits) + ".")
    memory = checked.get("least-memory")
    if memory is not None:
        ranked = ", ".join(f"{c} {v / 2**20:,.0f} MiB" for c, v in memory.numbers["ranked"])
        cheapest = memory.numbers["ranked"][0][0]
        title = (
            f"A coroutine crawler uses the least memory ({cheapest})."
            if memory.holds
            else f"The least memory is not a coroutine crawler's ({cheapest})."
        )
        lines.append(f"- **{title}** Peak memory at c={memory.numbers['top']}: {ranked}.")
    lines += loop_or_library(runs)
    mid = [lv for lv in levels if lv > 1]
    aio = {lv: _cell(runs, "asyncio", lv) for lv in mid}
    scrapy = {lv: _cell(runs, "scrapy", lv) for lv in mid}
    if any(scrapy.values()):
        ratios = ", ".join(
            f"c={lv}: {aio[lv] / scrapy[lv]:.2f}x" for lv in mid if aio.get(lv) and scrapy.get(lv)
        )
        lines.append(
            f"- **Against Scrapy** (the reference), our asyncio crawler's pages/s relative to Scrapy's: {ratios}."
        )
    return lines


def chart(path: Path, runs: Runs, levels: list[int]) -> Path:
    """Pages/s against concurrency, one line per crawler (in each model's colour)."""
    series: dict[str, tuple[list[float], list[float | None]]] = {}
    for crawler in dict.fromkeys(r["crawler"] for r in runs):
        points = sorted(
            (r["concurrency"], r["pages_per_s"])
            for r in runs
            if r["crawler"] == crawler and r.get("pages_per_s")
        )
        if points:
            series[crawler] = ([x for x, _ in points], [y for _, y in points])
    return line_chart(
        path,
        "One crawl, one site, one model per line",
        series,
        "concurrency (requests in flight)",
        "pages/s",
        logx=True,
        xticks=levels,
    )


def write_report(out: Path, setup: dict[str, Any], runs: Runs) -> str:
    """Write ``report.md`` and ``pages_per_s.png`` into ``out``; return the report text."""
    levels = setup["levels"]
    chart(out / "pages_per_s.png", runs, levels)
    origin = Provenance.from_dict(setup.get("provenance") or {})
    text = "\n".join(
        [
            "# crawl-bench",
            "",
            *markdown_lines(origin),
            "",
            f"Site: {setup['pages']} pages, {setup['latency_ms']} ms a page (slow ones 10x), "
            f"served by the {setup['server']} model on one core; each crawler in its own process on the other. "
            f"Python {setup['python']}, {setup['cpus']} CPUs.",
            "",
            "Pages/s (HTML pages fetched / elapsed):",
            "",
            table(runs, levels),
            "",
            "![pages/s against concurrency](pages_per_s.png)",
            "",
            "The crawler's CPU time per page (us; `cpu_s` / pages, its workers included):",
            "",
            cpu_table(runs, levels),
            "",
            "## Verdict",
            "",
            *verdict({"setup": setup, "runs": runs}),
            "",
            "## Figures",
            "",
            "Each crawl's result in results.json has these figures:",
            "",
            *(f"- `{name}`: {text}" for name, text in FIELDS.items()),
            "",
            "and crawl-bench adds:",
            "",
            *(f"- `{name}`: {text}" for name, text in BENCH_FIELDS.items()),
            "",
        ]
    )
    (out / "report.md").write_text(text)
    return text
