"""Tiny dependency-free charts: an SVG line chart and a text sparkline.

Used by the live ``/server-stats`` page, the section added to Locust's HTML
report, and the trend column of the web UI tab (which only shows text).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int = 30) -> str:
    """The last ``width`` values as block characters, scaled between their min and max."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = high - low
    if span <= 0:
        return SPARKS[0] * len(tail)
    return "".join(SPARKS[min(int((v - low) / span * len(SPARKS)), len(SPARKS) - 1)] for v in tail)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5, 10):
        magnitude = 10 ** len(str(int(value))) / 10
        if value <= step * magnitude:
            return step * magnitude
    return value


def line_chart(
    title: str,
    xs: Sequence[float],
    ys: Sequence[float],
    unit: str = "",
    width: int = 460,
    height: int = 170,
) -> str:
    """An inline SVG line chart of ``ys`` against ``xs`` (seconds), with a labelled y axis."""
    left, right, top, bottom = 52, 10, 24, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="15" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>',
    ]
    points = [(x, y) for x, y in zip(xs, ys, strict=False) if y is not None]
    if not points:
        parts.append(
            f'<text x="{left + 8}" y="{top + plot_h / 2}" fill="#888">no data</text></svg>'
        )
        return "".join(parts)
    x0, x1 = points[0][0], max(points[-1][0], points[0][0] + 1e-9)
    y_max = _nice_max(max(y for _, y in points))
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{y_max * frac:g}{escape(unit)}</text>'
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
        )
    parts.append(f'<text x="{left}" y="{height - 6}">0 s</text>')
    parts.append(
        f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end">{x1 - x0:.0f} s</text>'
    )
    coords = " ".join(
        f"{left + (x - x0) / (x1 - x0) * plot_w:.1f},{top + plot_h * (1 - y / y_max):.1f}"
        for x, y in points
    )
    parts.append(
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.8" points="{coords}"/></svg>'
    )
    return "".join(parts)
