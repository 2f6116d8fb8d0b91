"""The crawl-bench report: a table, a chart of pages/s against concurrency, the verdict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

Runs = list[dict[str, Any]]


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


def chart(path: Path, runs: Runs, levels: list[int]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for crawler in dict.fromkeys(r["crawler"] for r in runs):
        points = sorted(
            (r["concurrency"], r["pages_per_s"])
            for r in runs
            if r["crawler"] == crawler and r.get("pages_per_s")
        )
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(
                xs, ys, marker="o", label=crawler, linestyle="--" if crawler == "scrapy" else "-"
            )
    ax.set_xscale("log")
    ax.set_xticks(levels, [str(lv) for lv in levels])
    ax.set_xlabel("concurrency (requests in flight)")
    ax.set_ylabel("pages/s")
    ax.set_title("One crawl, one site, one model per line")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out: Path, setup: dict[str, Any], runs: Runs) -> str:
    """Write ``report.md`` and ``pages_per_s.png`` into ``out``; return the report text."""
    levels = setup["levels"]
    chart(out / "pages_per_s.png", runs, levels)
    text = "\n".join(
        [
            "# crawl-bench",
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
        ]
    )
    (out / "report.md").write_text(text)
    return text
