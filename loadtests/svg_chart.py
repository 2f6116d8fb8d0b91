"""Tiny dependency-free charts: an SVG line chart (one or two series) and a text sparkline.

Used by the Server & loader tab of the web UI, the live ``/server-stats`` page,
the section added to Locust's HTML report, and the trend column of the tab's
table (which only shows text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

SPARKS = "▁▂▃▄▅▆▇█"
LEFT_COLOUR = "#1f77b4"
RIGHT_COLOUR = "#d62728"


@dataclass(frozen=True)
class Series:
    """A second line drawn against the first, on its own axis (at the right) unless the units agree."""

    label: str
    values: Sequence[float | None]
    unit: str = ""


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


def _points(xs: Sequence[float], ys: Sequence[float | None]) -> list[tuple[float, float]]:
    return [(x, y) for x, y in zip(xs, ys, strict=False) if y is not None]


def line_chart(
    title: str,
    xs: Sequence[float],
    ys: Sequence[float | None],
    unit: str = "",
    width: int = 460,
    height: int = 170,
    *,
    label: str = "",
    against: Series | None = None,
) -> str:
    """An inline SVG line chart of ``ys`` against ``xs`` (seconds), with a labelled y axis.

    Args:
        label: the name of ``ys`` in the legend (drawn only with ``against``).
        against: a second series (Locust's users, its CPU...) drawn in another
            colour; on the same axis when its unit is ``unit``, else on a right axis.
    """
    left, right, top, bottom = 52, (44 if against else 10), 24, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<text x="{left}" y="15" font-size="13" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#bbb"/>',
    ]
    points = _points(xs, ys)
    other = _points(xs, against.values) if against else []
    if not points and not other:
        parts.append(
            f'<text x="{left + 8}" y="{top + plot_h / 2}" fill="#888">no data</text></svg>'
        )
        return "".join(parts)
    shared = against is not None and against.unit == unit
    everything = [*points, *other]
    x0 = min(x for x, _ in everything)
    x1 = max(max(x for x, _ in everything), x0 + 1e-9)
    y_max = _nice_max(max((y for _, y in (everything if shared else points)), default=0.0))
    o_max = y_max if shared else _nice_max(max((y for _, y in other), default=0.0))
    for frac in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - frac)
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{y_max * frac:g}{escape(unit)}</text>'
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
        )
        if against is not None and not shared:
            parts.append(
                f'<text x="{left + plot_w + 4}" y="{y + 4:.1f}" fill="{RIGHT_COLOUR}">'
                f"{o_max * frac:g}{escape(against.unit)}</text>"
            )
    parts.append(f'<text x="{left}" y="{height - 6}">0 s</text>')
    parts.append(
        f'<text x="{left + plot_w}" y="{height - 6}" text-anchor="end">{x1 - x0:.0f} s</text>'
    )

    def polyline(pts: list[tuple[float, float]], top_value: float, colour: str) -> str:
        coords = " ".join(
            f"{left + (x - x0) / (x1 - x0) * plot_w:.1f},{top + plot_h * (1 - y / top_value):.1f}"
            for x, y in pts
        )
        return f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{coords}"/>'

    if points:
        parts.append(polyline(points, y_max, LEFT_COLOUR))
    if against is not None:
        if other:
            parts.append(polyline(other, o_max, RIGHT_COLOUR))
        legend_x = left + plot_w
        parts.append(
            f'<text x="{legend_x}" y="15" text-anchor="end">'
            f'<tspan fill="{LEFT_COLOUR}">━ {escape(label or title)}</tspan>'
            f'<tspan fill="{RIGHT_COLOUR}" dx="8">━ {escape(against.label)}</tspan></text>'
        )
    parts.append("</svg>")
    return "".join(parts)
