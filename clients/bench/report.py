"""Tables and charts for benchmark reports, shared by ``iomodels bench`` and the Locust ``compare`` report.

A small API over plain data (lists of rows, dicts of series), nothing bench-specific:

* numbers: :func:`fmt_num`, :func:`fmt_ms`, :func:`fmt_ratio`, :func:`fmt_pct`;
* tables: :func:`markdown_table` (GitHub markdown), :func:`rich_table` (terminal);
* charts (PNG, matplotlib's headless Agg backend, imported lazily):
  :func:`bar_chart`, :func:`grouped_bar_chart`, :func:`percentile_chart`, :func:`line_chart`.

Reference rows (``ref-*``) are marked by :func:`label` so every table and chart
shows which figures are the yardsticks rather than the models under test.

Example::

    from clients.bench.report import markdown_table, bar_chart, fmt_num
    rows = [["uvloop", fmt_num(71234)], ["ref-aiohttp", fmt_num(45000)]]
    print(markdown_table(["model", "req/s"], rows, align="lr"))
    bar_chart("rps.png", "hello", ["uvloop", "ref-aiohttp"], [71234, 45000], "req/s")
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REF_PREFIX = "ref-"

#: Latency percentiles in display order, with their labels.
PERCENTILES: tuple[tuple[str, str], ...] = (
    ("p50", "p50"),
    ("p90", "p90"),
    ("p99", "p99"),
    ("p999", "p99.9"),
    ("max", "max"),
)

__all__ = [
    "PERCENTILES",
    "bar_chart",
    "fmt_ms",
    "fmt_num",
    "fmt_pct",
    "fmt_ratio",
    "grouped_bar_chart",
    "is_reference",
    "label",
    "line_chart",
    "markdown_table",
    "percentile_chart",
    "rich_table",
]


# -- numbers -----------------------------------------------------------------------
def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def fmt_num(value: float | None, digits: int = 0) -> str:
    """``12345.6`` -> ``"12,346"``; ``digits`` decimals; ``None``/NaN -> ``"-"``."""
    if _missing(value):
        return "-"
    return f"{value:,.{digits}f}"


def fmt_ms(value: float | None) -> str:
    """A latency in milliseconds with 3 significant figures (``0.0421``, ``1.23``, ``512``)."""
    if _missing(value):
        return "-"
    assert value is not None
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fmt_ratio(value: float | None) -> str:
    """``1.634`` -> ``"1.63x"``."""
    return "-" if _missing(value) else f"{value:.2f}x"


def fmt_pct(value: float | None) -> str:
    """A fraction as a percentage: ``0.953`` -> ``"95.3%"``."""
    if value is None or _missing(value):
        return "-"
    return f"{100 * value:.1f}%"


def is_reference(name: str) -> bool:
    """True for a reference server (``ref-*``)."""
    return name.startswith(REF_PREFIX)


def label(name: str, markdown: bool = True) -> str:
    """A row label that marks references: ``ref-bare`` -> ``*ref-bare* (ref)``."""
    if not is_reference(name):
        return name
    return f"*{name}* (ref)" if markdown else f"{name} (ref)"


# -- tables ------------------------------------------------------------------------
def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A GitHub markdown table.

    Args:
        headers: column titles.
        rows: cells (converted with ``str``; ``None`` becomes ``-``).
        align: one letter per column, ``l``/``r``/``c`` (default: first column left, rest right).
    """
    align = align or ("l" + "r" * (len(headers) - 1))
    marks = {"l": "---", "r": "---:", "c": ":---:"}

    def cell(value: Any) -> str:
        return "-" if value is None else str(value).replace("|", "\\|")

    lines = [
        "| " + " | ".join(cell(h) for h in headers) + " |",
        "| " + " | ".join(marks.get(a, "---") for a in align.ljust(len(headers), "r")) + " |",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def rich_table(
    title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = ""
) -> Any:
    """The same table as a :class:`rich.table.Table` for the terminal (references dimmed)."""
    from rich.table import Table

    align = align or ("l" + "r" * (len(headers) - 1))
    justify = {"l": "left", "r": "right", "c": "center"}
    table = Table(title=title, title_justify="left")
    for index, header in enumerate(headers):
        table.add_column(header, justify=justify.get(align[index : index + 1], "right"))  # type: ignore[arg-type]
    for row in rows:
        first = str(row[0]) if row else ""
        style = "dim" if is_reference(first.strip("*").split(" ")[0]) else None
        table.add_row(*("-" if v is None else str(v) for v in row), style=style)
    return table


# -- charts ------------------------------------------------------------------------
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _colors(names: Sequence[str]) -> list[str]:
    palette = [
        "#4C72B0",
        "#DD8452",
        "#55A868",
        "#C44E52",
        "#8172B3",
        "#937860",
        "#DA8BC3",
        "#8C8C8C",
    ]
    out = []
    index = 0
    for name in names:
        if is_reference(name):
            out.append("#B0B0B0")
        else:
            out.append(palette[index % len(palette)])
            index += 1
    return out


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def bar_chart(
    path: str | Path,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    ylabel: str,
    *,
    log: bool = False,
    hline: tuple[float, str] | None = None,
) -> Path:
    """One bar per label (references in grey), value printed on each bar; returns the PNG path.

    ``hline=(y, text)`` draws a dashed reference line (an ideal, a target).
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(max(6.0, 0.8 * len(labels) + 2), 4.2))
    heights = [0.0 if _missing(v) else float(v) for v in values]  # type: ignore[arg-type]
    bars = ax.bar(range(len(labels)), heights, color=_colors(labels))
    for bar, value in zip(bars, values, strict=True):
        if not _missing(value):
            ax.annotate(
                fmt_num(value, 0 if abs(value) >= 100 else 2),  # type: ignore[arg-type]
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
    if hline is not None:
        ax.axhline(hline[0], linestyle="--", color="#444444", linewidth=1)
        ax.annotate(hline[1], (len(labels) - 0.5, hline[0]), ha="right", va="bottom", fontsize=8)
    ax.set_xticks(range(len(labels)), list(labels), rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def grouped_bar_chart(
    path: str | Path,
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    ylabel: str,
    *,
    log: bool = False,
) -> Path:
    """Bars grouped by ``groups`` (x axis), one colour per series name (the legend)."""
    plt = _pyplot()
    names = list(series)
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.4 * len(groups) + 3), 4.5))
    for index, (name, color) in enumerate(zip(names, _colors(names), strict=True)):
        heights = [math.nan if _missing(v) else float(v) for v in series[name]]  # type: ignore[arg-type]
        xs = [g + (index - (len(names) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(
            xs,
            heights,
            width,
            label=label(name, markdown=False),
            color=color,
            hatch="//" if is_reference(name) else None,
            edgecolor="white",
        )
    ax.set_xticks(range(len(groups)), list(groups))
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def percentile_chart(
    path: str | Path,
    title: str,
    latencies: Mapping[str, Mapping[str, float | None]],
    *,
    unit: str = "ms",
) -> Path:
    """Latency percentiles (p50 ... max, see :data:`PERCENTILES`) per name, log y axis.

    ``latencies`` maps a name to ``{"p50": ..., "p90": ..., "p99": ..., "p999": ..., "max": ...}``.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    keys = [k for k, _ in PERCENTILES]
    for name, color in zip(latencies, _colors(list(latencies)), strict=True):
        values = [latencies[name].get(k) for k in keys]
        ys = [math.nan if _missing(v) or not v else float(v) for v in values]  # type: ignore[arg-type]
        ax.plot(
            range(len(keys)),
            ys,
            marker="o",
            color=color,
            label=label(name, markdown=False),
            linestyle="--" if is_reference(name) else "-",
        )
    ax.set_xticks(range(len(keys)), [text for _, text in PERCENTILES])
    ax.set_yscale("log")
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
) -> Path:
    """One line per name: ``series[name] = (xs, ys)`` (``None`` ys are gaps)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for name, color in zip(series, _colors(list(series)), strict=True):
        xs, ys = series[name]
        clean = [math.nan if _missing(y) else float(y) for y in ys]  # type: ignore[arg-type]
        ax.plot(
            list(xs),
            clean,
            marker="o",
            color=color,
            label=label(name, markdown=False),
            linestyle="--" if is_reference(name) else "-",
        )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)
