"""The reporting package: numbers, tables, one style per name, charts that show what tables show, provenance."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reporting import charts, provenance
from reporting.charts import Bar, bar_chart, line_chart, percentile_chart
from reporting.formats import fmt_floor, fmt_ms, fmt_num, fmt_pct, fmt_ratio
from reporting.styles import ALIASES, STYLES, is_reference, style_for
from reporting.tables import label, markdown_table
from servers.registry import model_names

PLANNED = ("reactor", "generators", "prefork", "threadpool", "iouring", "interpreters")


def test_number_formats() -> None:
    assert fmt_ms(0.04217) == "0.042"
    assert fmt_ms(512.3) == "512"
    assert fmt_ratio(1.634) == "1.63x"
    assert fmt_pct(0.953) == "95.3%"
    assert fmt_num(None) == "-" and fmt_num(float("nan")) == "-"
    assert fmt_floor(116_557.2, True) == ">= 116,557" and fmt_floor(5.0, False) == "5"


def test_markdown_table_marks_references() -> None:
    text = markdown_table(["server", "req/s"], [[label("ref-bare"), fmt_num(1234.5)]])
    assert text.splitlines()[1] == "| --- | ---: |"
    assert "*ref-bare* (ref) | 1,234" in text
    assert label("uvloop") == "uvloop" and label("scrapy") == "*scrapy* (ref)"


def test_every_model_has_its_own_look() -> None:
    models = list(dict.fromkeys([*model_names(), *PLANNED]))  # the planned ones, once landed
    assert all(name in STYLES for name in models)
    looks = [(style_for(m).color, style_for(m).marker) for m in models]
    assert len({c for c, _ in looks}) == len(models) and len({m for _, m in looks}) == len(models)
    assert not any(is_reference(m) for m in models)
    assert style_for("threads") == style_for(ALIASES["threads"])  # a crawler looks like its model


def test_references_share_a_style_and_differ_by_marker() -> None:
    refs = [name for name, style in STYLES.items() if style.reference]
    assert {style_for(r).linestyle for r in refs} == {"--"}
    assert len({style_for(r).marker for r in refs}) == len(refs)
    assert len({style_for(r).color for r in refs}) == len(refs)


def test_unknown_names_get_the_same_style_in_every_process() -> None:
    code = "from reporting.styles import style_for; s = style_for('brand-new'); print(s.color, s.marker)"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(seen) == 1
    unknown_ref = style_for("ref-brand-new")
    assert unknown_ref.reference and unknown_ref.linestyle == "--"
    assert not style_for("brand-new").reference


@pytest.fixture
def figures(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The figures the charts would save, kept open for inspection (closed afterwards)."""
    kept: list[Any] = []

    def keep(fig: Any, path: str | Path) -> Path:
        kept.append(fig)
        return Path(path)

    monkeypatch.setattr(charts, "_save", keep)
    yield kept
    for fig in kept:
        charts._pyplot().close(fig)


def test_a_floor_is_hatched_and_the_second_client_is_a_marker(
    figures: list[Any], tmp_path: Path
) -> None:
    bars = [Bar("ref-bare", 116_557, floor=True, marker=143_216), Bar("uvloop", 90_000)]
    bar_chart(tmp_path / "t.png", "hello", bars, "req/s", marker_label="wrk")
    (ax,) = figures[0].axes
    drawn = [p for p in ax.patches if p.get_height() > 0]
    assert [round(p.get_height()) for p in drawn] == [116_557, 90_000]  # our client's figures
    assert drawn[0].get_hatch() and not drawn[1].get_hatch()
    texts = [t.get_text() for t in ax.texts]
    assert "≥ 116,557" in texts and "90,000" in texts and "143,216" in texts
    (marker,) = [line for line in ax.lines if line.get_marker() == charts.SECOND_CLIENT_MARKER]
    assert list(marker.get_ydata()) == [143_216]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["≥ floor: the load client was the limit", "wrk"]


def test_references_are_told_apart_in_latency_charts(figures: list[Any], tmp_path: Path) -> None:
    lat = {"p50": 1.0, "p99": 2.0, "max": 3.0}
    names = ["uvloop", "ref-bare", "ref-aiohttp", "ref-nginx"]
    percentile_chart(tmp_path / "l.png", "t", {n: lat for n in names}, hline=(2.5, "wait"))
    (ax,) = figures[0].axes
    lines = {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}
    refs = [lines[label(n, markdown=False)] for n in names[1:]]
    assert {line.get_linestyle() for line in refs} == {"--"}
    assert len({(line.get_color(), line.get_marker()) for line in refs}) == 3
    assert lines["uvloop"].get_color() == style_for("uvloop").color


def test_charts_are_png(tmp_path: Path) -> None:
    paths = [
        bar_chart(tmp_path / "a.png", "t", [Bar("uvloop", 1.0), Bar("ref-bare", None)], "y"),
        percentile_chart(tmp_path / "c.png", "t", {"uvloop": {"p50": 0.1, "p99": 1.0}}),
        line_chart(
            tmp_path / "d.png", "t", {"asyncio": ([1, 10], [1.0, None])}, "x", "y", logx=True
        ),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_provenance_round_trip_and_lines() -> None:
    now = provenance.describe()
    assert now.git_commit and now.timestamp and now.cpu_count
    block = {**now.to_dict(), "placement": "server CPU 0", "wrk": "4.2"}
    assert provenance.Provenance.from_dict(block) == now
    lines = provenance.markdown_lines(now)
    assert lines[0] == f"- Commit {now.git_commit}, {now.timestamp}"
    assert any(line.startswith("- CPU: ") for line in lines)
