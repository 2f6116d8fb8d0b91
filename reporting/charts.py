"""PNG charts for the reports, drawn with matplotlib's headless Agg backend.

Every chart takes its colours and markers from :mod:`reporting.styles`, so a
model looks the same in all of them. A chart shows what its table shows:

* :func:`bar_chart`: one bar per name. A bar that is only a floor (the load
  client was the limit) is hatched and labelled ``≥``; a second client's figure
  for the same run (wrk's) is a black marker beside it, never mixed into the bar.
* :func:`percentile_chart`: latency percentiles (p50 ... max) per name, log scale.
* :func:`line_chart`: one line per name over a shared x axis; points that are
  not like the others (a server refusing connections there) drawn hollow, on
  a dotted line.

matplotlib is imported when a chart is drawn, not when this module is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reporting.formats import FLOOR, PERCENTILES, fmt_num, missing
from reporting.styles import is_reference, style_for
from reporting.tables import label

SECOND_CLIENT_MARKER = "D"
#: where a second client's marker stands, right of its bar's centre (bar width 0.7)
MARKER_OFFSET = 0.22
FLOOR_HATCH = "///"


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of :func:`bar_chart`.

    Attributes:
        name: the model or reference (its style and tick label).
        value: the figure (``None``: no bar, ``n/a`` written instead).
        floor: the figure is a lower bound (the load client was the limit).
        marker: a second client's figure for the same run, drawn as a marker.
    """

    name: str
    value: float | None
    floor: bool = False
    marker: float | None = None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def _value_text(value: float) -> str:
    return fmt_num(value, 0 if abs(value) >= 100 else 1 if abs(value) >= 10 else 2)


def _value_label(
    ax: Any,
    text: str,
    at: tuple[float, float],
    offset: tuple[float, float],
    ha: str,
    va: str,
    size: float,
) -> None:
    """A figure written next to the point it labels (``offset`` in points)."""
    ax.annotate(text, at, xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=size)


def _tick(value: float, _position: float) -> str:
    """An axis label: ``0.05``, ``2``, ``50``, ``20,000``."""
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"


def _log_y(ax: Any) -> None:
    """A log y axis labelled at 1, 2 and 5 of each decade, in plain numbers."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(_tick))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _hline(ax: Any, hline: tuple[float, str] | None) -> None:
    """A dotted line at ``y`` with its text at the right end, inside the axes."""
    if hline is not None:
        ax.axhline(hline[0], linestyle=":", color="#444444", linewidth=1)
        ax.annotate(
            hline[1],
            (1.0, hline[0]),
            xycoords=("axes fraction", "data"),
            xytext=(-4, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7,
            color="#444444",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1},
        )


def bar_chart(
    path: str | Path,
    title: str,
    bars: Sequence[Bar],
    ylabel: str,
    *,
    marker_label: str = "",
    log: bool = False,
    hline: tuple[float, str] | None = None,
) -> Path:
    """One bar per :class:`Bar`, in the order given, each labelled with its value; returns the PNG path.

    Args:
        marker_label: the legend's name for the markers (``"wrk (C client)"``).
        log: a logarithmic y axis.
        hline: ``(y, text)``: a dotted line for a target or an ideal.
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(bars) + 2), 4.4))
    tops: list[float] = []
    for x, bar in enumerate(bars):
        style = style_for(bar.name)
        if bar.value is None or missing(bar.value):
            ax.annotate("n/a", (x, 0), ha="center", va="bottom", fontsize=7, color="#666666")
        else:
            ax.bar(
                x,
                bar.value,
                0.7,
                color=style.color,
                alpha=0.55 if bar.floor else 1.0,
                hatch=FLOOR_HATCH if bar.floor else None,
                edgecolor="black" if bar.floor else style.color,
                linewidth=0.8,
            )
            text = f"{FLOOR} {_value_text(bar.value)}" if bar.floor else _value_text(bar.value)
            beside = bar.marker is not None and not missing(bar.marker)
            centre = x - MARKER_OFFSET / 2 if beside else x
            _value_label(ax, text, (centre, bar.value), (0, 2), "center", "bottom", 7)
            tops.append(bar.value)
        if bar.marker is not None and not missing(bar.marker):
            ax.plot(
                [x + MARKER_OFFSET],
                [bar.marker],
                marker=SECOND_CLIENT_MARKER,
                color="black",
                markersize=6,
                linestyle="",
                zorder=3,
            )
            at = (x + MARKER_OFFSET, bar.marker)
            _value_label(ax, _value_text(bar.marker), at, (5, 0), "left", "center", 6.5)
            tops.append(bar.marker)
    _hline(ax, hline)
    ax.set_xticks(
        range(len(bars)), [label(b.name, markdown=False) for b in bars], rotation=30, ha="right"
    )
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        _log_y(ax)
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(_tick))
        if tops:
            ax.set_ylim(0, max([*tops, hline[0] if hline else 0]) * 1.15)
    ax.grid(axis="y", alpha=0.3)
    legend: list[Any] = []
    if any(b.floor and b.value is not None for b in bars):
        legend.append(
            Patch(
                facecolor="white",
                edgecolor="black",
                hatch=FLOOR_HATCH,
                label=f"{FLOOR} floor: the load client was the limit",
            )
        )
    if marker_label and any(b.marker is not None for b in bars):
        legend.append(
            Line2D(
                [], [], marker=SECOND_CLIENT_MARKER, color="black", linestyle="", label=marker_label
            )
        )
    if legend:
        ax.legend(handles=legend, fontsize=7, loc="best")
    return _save(fig, path)


def _plot_series(
    ax: Any,
    name: str,
    xs: Sequence[float],
    ys: Sequence[float | None],
    flagged: Sequence[bool] = (),
) -> None:
    """One name's line; ``flagged`` points are hollow, reached by a dotted line."""
    style = style_for(name)
    values = [math.nan if y is None or missing(y) else float(y) for y in ys]
    marks = list(flagged) + [False] * (len(values) - len(flagged))
    ax.plot(
        list(xs),
        [math.nan if f else v for v, f in zip(values, marks, strict=True)],
        marker=style.marker,
        color=style.color,
        linestyle=style.linestyle,
        linewidth=1.2 if is_reference(name) else 1.6,
        markersize=6,
        label=label(name, markdown=False),
    )
    if any(marks):
        near = [i for i, f in enumerate(marks) if f or (i + 1 < len(marks) and marks[i + 1])]
        ax.plot(
            [xs[i] for i in near],
            [values[i] for i in near],
            linestyle=":",
            color=style.color,
            linewidth=1.2,
        )
        ax.plot(
            [x for x, f in zip(xs, marks, strict=True) if f],
            [v for v, f in zip(values, marks, strict=True) if f],
            marker=style.marker,
            color=style.color,
            markerfacecolor="white",
            linestyle="",
            markersize=7,
        )


def _vline(ax: Any, vline: tuple[float, str] | None) -> None:
    """A dotted vertical line at ``x`` with its text at the top, inside the axes."""
    if vline is not None:
        ax.axvline(vline[0], linestyle=":", color="#444444", linewidth=1)
        ax.annotate(
            vline[1],
            (vline[0], 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -4),
            textcoords="offset points",
            ha="left",
            va="top",
            fontsize=7,
            color="#444444",
        )


def percentile_chart(
    path: str | Path,
    title: str,
    latencies: Mapping[str, Mapping[str, float | None]],
    *,
    unit: str = "ms",
    hline: tuple[float, str] | None = None,
) -> Path:
    """Latency percentiles (see :data:`reporting.formats.PERCENTILES`) per name, log y axis.

    ``latencies`` maps a name to ``{"p50": ..., "p90": ..., "p99": ..., "p999": ..., "max": ...}``;
    ``hline=(y, text)`` marks a level worth explaining (a wait every request of a kind makes).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    keys = [k for k, _ in PERCENTILES]
    for name, values in latencies.items():
        ys = [values.get(k) or None for k in keys]  # 0 cannot go on a log axis
        _plot_series(ax, name, range(len(keys)), ys)
    _hline(ax, hline)
    ax.set_xticks(range(len(keys)), [text for _, text in PERCENTILES])
    _log_y(ax)
    ax.set_ylabel(f"latency ({unit}, log)")
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def line_chart(
    path: str | Path,
    title: str,
    series: Mapping[str, tuple[Sequence[float], Sequence[float | None]]],
    xlabel: str,
    ylabel: str,
    *,
    logx: bool = False,
    logy: bool = False,
    xticks: Sequence[float] = (),
    flagged: Mapping[str, Sequence[bool]] | None = None,
    flag_label: str = "",
    hline: tuple[float, str] | None = None,
    vline: tuple[float, str] | None = None,
) -> Path:
    """One line per name: ``series[name] = (xs, ys)`` (``None`` ys are gaps).

    Args:
        flagged: per name, the points to draw hollow on a dotted line (a
            server refusing connections there); ``flag_label`` says why, in the legend.
        hline, vline: ``(value, text)``: a dotted line at a level or at an x worth explaining.
    """
    plt = _pyplot()
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    flagged = flagged or {}
    for name, (xs, ys) in series.items():
        _plot_series(ax, name, xs, ys, flagged.get(name, ()))
    _hline(ax, hline)
    _vline(ax, vline)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    if logy:
        _log_y(ax)
    if xticks:
        ax.set_xticks(list(xticks), [f"{x:,g}" for x in xticks])
        ax.xaxis.set_minor_locator(_no_ticks())
    ax.grid(alpha=0.3, which="both")
    handles, _ = ax.get_legend_handles_labels()
    if flag_label and any(any(f) for f in flagged.values()):
        hollow = Line2D([], [], marker="o", color="#444444", markerfacecolor="white", linestyle=":")
        hollow.set_label(flag_label)
        handles.append(hollow)
    ax.legend(handles=handles, fontsize=7, ncol=2)
    return _save(fig, path)


def _no_ticks() -> Any:
    from matplotlib.ticker import NullLocator

    return NullLocator()
