"""The crawl-bench report: where it comes from, a table, a chart of pages/s against concurrency,
the verdict, and what each figure of a crawl means (:data:`FIELDS`, also ``iomodels crawl --help``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    "peak_rss_bytes": "peak resident memory of the crawler (its processes summed where it forks)",
    "digest": "a digest of the set of pages' paths: equal digests, equal crawls",
    "interrupted": "true when Ctrl-C (SIGINT) cut the crawl short: the figures cover what was done",
    "matches_site": "(--serve only) the pages are exactly the site's reachable pages",
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


def table(runs: Runs, levels: list[int]) -> str:
    """Pages/s per crawler (rows) and concurrency (columns), then peak RSS at the top level."""
    crawlers = list(dict.fromkeys(run["crawler"] for run in runs))
    top = levels[-1]
    head = (
        "| crawler | " + " | ".join(f"c={c}" for c in levels) + f" | peak RSS at c={top} | checks |"
    )
    lines = [head, "|" + " --- |" * (len(levels) + 3)]
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
        lines.append(
            f"| {crawler} | "
            + " | ".join(cells)
            + f" | {rss_text} (c={top_run['concurrency']}) | {'ok' if ok else 'FAILED'} |"
        )
    return "\n".join(lines)


def verdict(runs: Runs, levels: list[int], latency_ms: int) -> list[str]:
    """The IO-bound claim, in numbers."""
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
    if base:
        gains = ", ".join(
            f"{c} x{b['pages_per_s'] / base:.1f} (at c={b['concurrency']})"
            for c, b in best.items()
            if c != "sequential"
        )
        lines.append(
            f"- **Many tasks help IO-bound work.** Against the sequential baseline ({base:,.0f} pages/s, "
            f"bound by {latency_ms} ms a page), the best figure of each crawler: {gains}."
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
    if limits:
        lines.append(
            "- **Up to a limit.** Once the waits overlap, the client's CPU (one core) is the bottleneck: "
            + "; ".join(limits)
            + "."
        )
    highest = levels[-1]
    rss = {
        r["crawler"]: r["peak_rss_bytes"]
        for r in runs
        if r["concurrency"] == highest and r.get("peak_rss_bytes")
    }
    if rss:
        ranked = ", ".join(
            f"{c} {v / 2**20:,.0f} MiB" for c, v in sorted(rss.items(), key=lambda kv: kv[1])
        )
        lines.append(f"- **Coroutines are cheapest.** Peak memory at c={highest}: {ranked}.")
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
            "## Verdict",
            "",
            *verdict(runs, levels, setup["latency_ms"]),
            "",
            "## Figures",
            "",
            "Each crawl's result in results.json has these figures:",
            "",
            *(f"- `{name}`: {text}" for name, text in FIELDS.items()),
            "",
        ]
    )
    (out / "report.md").write_text(text)
    return text
