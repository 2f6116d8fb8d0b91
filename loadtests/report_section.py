"""The server-and-loader charts: in the web UI's tab, on ``/server-stats`` and in Locust's HTML report."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from loadtests.samples import SUMMARY_LABELS
from loadtests.svg_chart import Series, line_chart


@dataclass(frozen=True)
class Chart:
    """One chart: a figure of the samples, and what of Locust it is drawn against."""

    key: str  # the sample column drawn
    title: str
    unit: str
    label: str  # the figure's name in the legend
    against: str | None = None  # a Locust column drawn with it
    against_label: str = ""
    against_unit: str = ""


#: the charts drawn, in order: the server's figures against Locust's users and CPU
CHARTS = [
    Chart("server_cpu_pct", "CPU, % of one core", "%", "server", "loader_cpu_pct", "Locust", "%"),
    Chart("server_rps", "Requests/s", "/s", "server", "users", "users"),
    Chart("server_connections", "Open connections", "", "server", "users", "users"),
    Chart("server_rss_mb", "Server RSS", " MB", "server", "users", "users"),
    Chart("server_processes", "Server processes", "", "server"),
    Chart("server_threads", "Server threads", "", "server"),
]
MARKER = "<!-- iomodels-server-stats -->"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}" if isinstance(value, int | float) else escape(str(value))


def charts_html(plugin: Any) -> str:
    """Every chart that has data, as inline SVG in a wrapping row."""
    xs = [s.elapsed_s for s in plugin.samples]
    charts = []
    for chart in CHARTS:
        ys = [s.values.get(chart.key) for s in plugin.samples]
        if not any(y is not None for y in ys):
            continue
        against = None
        if chart.against:
            values = [s.values.get(chart.against) for s in plugin.samples]
            against = Series(chart.against_label, values, chart.against_unit)
        charts.append(
            line_chart(chart.title, xs, ys, chart.unit, label=chart.label, against=against)
        )
    return '<div style="display:flex;flex-wrap:wrap;gap:8px">' + "".join(charts) + "</div>"


def verdict_html(plugin: Any) -> str:
    """The loader verdict, one paragraph."""
    summary = plugin.summary()
    return (
        '<p style="color:#b00;font-weight:bold">LOADER-BOUND: the busiest Locust process was at or above '
        f"{summary['loader_cpu_threshold_pct']:g}% CPU in {summary['loader_saturated_share'] * 100:.0f}% of the samples; "
        "the request rate measures Locust here, not the server. Use --processes or more machines.</p>"
        if summary["loader_bound"]
        else f"<p>Not loader-bound: the busiest Locust process averaged {_fmt(summary['loader_cpu_busiest_mean_pct'])}% CPU.</p>"
    )


def section_html(plugin: Any) -> str:
    """The section: the loader verdict, the charts and a summary table."""
    rows = "".join(
        f"<tr><td>{escape(SUMMARY_LABELS.get(k, k))}</td><td>{_fmt(v)}</td></tr>"
        for k, v in plugin.summary().items()
    )
    return (
        f'{MARKER}<section id="iomodels-server-stats" style="font-family:sans-serif;margin:24px;'
        'padding:12px;border-top:2px solid #ccc;background:#fff;color:#222">'
        "<h2>Server and loader (iomodels plugin)</h2>"
        f"{verdict_html(plugin)}{charts_html(plugin)}"
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
