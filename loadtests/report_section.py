"""The server-and-loader section added to Locust's HTML report (and the live ``/server-stats`` page)."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from loadtests.svg_chart import line_chart

#: the charts drawn, in order: (sample column, title, unit)
CHARTS = [
    ("server_cpu_pct", "Server CPU (% of one core)", "%"),
    ("server_rss_mb", "Server RSS", " MB"),
    ("server_connections", "Server open connections", ""),
    ("server_processes", "Server processes", ""),
    ("server_threads", "Server threads", ""),
    ("server_rps", "Server requests/s", ""),
    ("users", "Locust users", ""),
    ("loader_cpu_pct", "Busiest Locust process CPU", "%"),
]
MARKER = "<!-- iomodels-server-stats -->"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, int | float) else escape(str(value))


def section_html(plugin: Any) -> str:
    """The section: the loader verdict, a summary table and one chart per figure."""
    summary = plugin.summary()
    verdict = (
        '<p style="color:#b00;font-weight:bold">LOADER-BOUND: the busiest Locust process was at or above '
        f"{summary['loader_cpu_threshold_pct']:g}% CPU in {summary['loader_saturated_share'] * 100:.0f}% of the samples; "
        "the request rate measures Locust here, not the server. Use --processes or more machines.</p>"
        if summary["loader_bound"]
        else f"<p>Not loader-bound: the busiest Locust process averaged {summary['loader_cpu_busiest_mean_pct']:g}% CPU.</p>"
    )
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{_fmt(v)}</td></tr>" for k, v in summary.items())
    xs = [s.elapsed_s for s in plugin.samples]
    charts = []
    for key, title, unit in CHARTS:
        ys = [s.values.get(key) for s in plugin.samples]
        if any(y is not None for y in ys):
            charts.append(line_chart(title, xs, ys, unit))
    return (
        f'{MARKER}<section id="iomodels-server-stats" style="font-family:sans-serif;margin:24px;'
        'padding:12px;border-top:2px solid #ccc;background:#fff;color:#222">'
        "<h2>Server and loader (iomodels plugin)</h2>"
        f"{verdict}"
        '<div style="display:flex;flex-wrap:wrap;gap:8px">' + "".join(charts) + "</div>"
        '<table style="border-collapse:collapse;margin-top:12px" border="1" cellpadding="4">'
        f"<tr><th>figure</th><th>value</th></tr>{rows}</table></section>"
    )


def inject(html: str, plugin: Any) -> str:
    """``html`` (a Locust report) with the section added before ``</body>`` (once)."""
    if MARKER in html:
        return html
    section = section_html(plugin)
    index = html.rfind("</body>")
    return html + section if index < 0 else html[:index] + section + html[index:]


def inject_into_file(path: str, plugin: Any) -> None:
    file = Path(path)
    file.write_text(inject(file.read_text(encoding="utf-8"), plugin), encoding="utf-8")


def live_page(plugin: Any, refresh_s: int = 2) -> str:
    """A stand-alone page that reloads itself: the charts while a test runs."""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="{refresh_s}">'
        "<title>iomodels: server and loader</title></head><body>"
        '<p style="font-family:sans-serif;margin:24px 24px 0"><a href="./">back to Locust</a> · '
        '<a href="./server-stats/csv">CSV</a></p>' + section_html(plugin) + "</body></html>"
    )
