"""The bench: report helpers, placement, verdicts, result files, and a tiny real run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from clients.bench import report, wrk
from clients.bench.analysis import add_ratios, verdicts
from clients.bench.harness import Options, build_jobs, run_all, summarize_idle
from clients.bench.placement import parse_cpus, plan
from clients.bench.results import write_all
from clients.bench.workloads import select

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000/
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   612.00us  100.00us   4.91ms   90.00%
  Latency Distribution
     50%  600.00us
     75%  650.00us
     90%  700.00us
     99%    1.25ms
  156000 requests in 2.00s, 20.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
Requests/sec:  78000.50
Transfer/sec:     10.00MB
"""


def test_markdown_table_marks_references() -> None:
    text = report.markdown_table(
        ["server", "req/s"], [[report.label("ref-bare"), report.fmt_num(1234.5)]]
    )
    assert text.splitlines()[1] == "| --- | ---: |"
    assert "*ref-bare* (ref) | 1,234" in text
    assert report.label("uvloop") == "uvloop"


def test_number_formats() -> None:
    assert report.fmt_ms(0.04217) == "0.042"
    assert report.fmt_ms(512.3) == "512"
    assert report.fmt_ratio(1.634) == "1.63x"
    assert report.fmt_pct(0.953) == "95.3%"
    assert report.fmt_num(None) == "-"


def test_charts_are_png(tmp_path: Path) -> None:
    paths = [
        report.bar_chart(
            tmp_path / "a.png", "t", ["uvloop", "ref-bare"], [1.0, None], "req/s", hline=(1, "x")
        ),
        report.grouped_bar_chart(
            tmp_path / "b.png", "t", ["g1", "g2"], {"uvloop": [1, 2], "ref-bare": [2, 3]}, "y"
        ),
        report.percentile_chart(
            tmp_path / "c.png", "t", {"uvloop": {"p50": 0.1, "p99": 1.0, "max": 3.0}}
        ),
        report.line_chart(tmp_path / "d.png", "t", {"uvloop": ([0, 10], [1.0, 2.0])}, "x", "y"),
    ]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_wrk_output_is_parsed() -> None:
    parsed = wrk.parse(WRK_OUTPUT)
    assert parsed["rps"] == 78000.50
    assert parsed["latency_ms"]["p99"] == pytest.approx(1.25)
    assert parsed["latency_ms"]["p50"] == pytest.approx(0.6)
    assert parsed["errors"] == 3 and parsed["requests"] == 156000


def test_placement() -> None:
    assert parse_cpus("0,2-3") == (0, 2, 3)
    placement = plan((0,), (1,))
    assert placement.server_cpus == (0,) and placement.loader_cpus == (1,) and not placement.shared
    assert plan((0,), (1,), all_cpus_for_server=True).server_cpus == tuple(
        sorted(__import__("os").sched_getaffinity(0))
    )


def _run(model: str, workload: str, rps: float, cpu: float, **more: object) -> dict:
    return {
        "model": model,
        "workload": workload,
        "rps": rps,
        "server_cpu_us_per_req": cpu,
        "latency_ms": {"p50": 1.0, "p90": 1.0, "p99": 2.0, "p999": 3.0, "max": 4.0},
        "errors": 0,
        **more,
    }


SYNTHETIC = [
    _run("uvloop", "hello", 80_000, 12.0),
    _run("ref-aiohttp", "hello", 40_000, 25.0, reference=True),
    _run(
        "ref-bare", "hello", 100_000, 8.0, reference=True, loader_bound=True, wrk={"rps": 120_000}
    ),
    _run("thread", "echo-1k", 50_000, 14.0),
    _run("ref-echo-thread", "echo-1k", 60_000, 10.0, reference=True),
    _run("multiprocess", "cpu", 390, 5000.0),
    _run("thread", "cpu", 200, 5000.0, server_cpu_pct=101.0),
]


def test_verdicts_say_which_targets_hold() -> None:
    runs = [dict(r) for r in SYNTHETIC]
    add_ratios(runs)
    checked = {v.claim: v for v in verdicts(runs, cpu_ms=5.0)}
    assert checked["hello: uvloop req/s vs ref-aiohttp"].holds is True  # 2.0x
    assert checked["hello: uvloop CPU us/req vs ref-aiohttp"].holds is True  # 0.48x
    assert checked["hello: uvloop req/s vs ref-bare"].holds is True  # 80k of wrk's 120k
    assert checked["echo-1k: thread CPU us/msg vs ref-echo-thread"].holds is False  # 1.4x
    assert checked["cpu: multiprocess req/s vs thread"].holds is True
    assert checked["cpu: thread uses one core (the GIL)"].holds is True
    uv = next(r for r in runs if r["model"] == "uvloop")
    assert uv["vs_aiohttp"] == pytest.approx(2.0) and uv["of_bare"] == pytest.approx(80 / 120)


def _step(target: int, held: int, pss: float, p99: float, refused: int = 0) -> dict:
    return {
        "target": target,
        "held": held,
        "refused": refused,
        "closed": 0,
        "stalled": 0,
        "connect": 0,
        "dropped": 0,
        "pss_mb": pss,
        "rss_mb": pss,
        "processes": 1,
        "threads": 1,
        "probe": {"rps": 1000.0, "errors": 0, "latency_ms": {"p99": p99}},
    }


def test_idle_summary_per_connection_and_limit() -> None:
    row = summarize_idle(
        [_step(0, 0, 10.0, 1.0), _step(1000, 1000, 12.0, 2.0), _step(2500, 2000, 20.0, 9.0, 500)]
    )
    idle = row["idle"]
    assert idle["max_held"] == 1000
    assert idle["per_conn_kib"] == pytest.approx(2 * 1024 / 1000)
    assert idle["limit"]["held"] == 2000 and idle["limit"]["refused"] == 500
    assert idle["p99_ratio"] == pytest.approx(2.0)


def test_result_files(tmp_path: Path) -> None:
    machine = {"cpu_model": "test", "cpu_ms": 5.0}
    report_path, checked = write_all(
        tmp_path, machine, [dict(r) for r in SYNTHETIC], ["a note"], charts=True
    )
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc) >= {"machine", "runs", "verdicts"}
    run = doc["runs"][0]
    assert {"model", "workload", "rps", "latency_ms", "errors", "server_cpu_us_per_req"} <= set(run)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert len(rows) == len(SYNTHETIC) and rows[0]["model"] == "uvloop"
    text = report_path.read_text()
    assert "## hello" in text and "*ref-aiohttp* (ref)" in text and "> a note" in text
    assert ">= 100,000" in text  # a loader-bound figure is a floor
    assert list(tmp_path.glob("throughput-hello.png"))


def test_jobs_skip_references_that_do_not_speak_the_protocol() -> None:
    opts = Options(models=["uvloop"], workloads=select("echo-1k hello"))
    names = {(j.workload.name, j.target.name) for j in build_jobs(opts)}
    assert ("echo-1k", "ref-echo-gevent") in names and ("hello", "ref-echo-gevent") not in names
    assert ("echo-1k", "ref-aiohttp") not in names


def test_unknown_workload() -> None:
    with pytest.raises(ValueError, match="unknown workload"):
        select("hello nope")


def test_tiny_real_run(tmp_path: Path) -> None:
    opts = Options(
        models=["uvloop", "thread"],
        workloads=select("hello echo-1k churn"),
        duration=0.3,
        warmup=0.1,
        references=False,
        use_wrk=False,
    )
    rows = run_all(opts)
    assert len(rows) == 6
    for row in rows:
        assert not row.get("failed"), row
        assert row["rps"] > 0 and row["errors"] == 0
        assert row["server_cpu_us_per_req"] > 0 and row["server_tasks"]["processes"] >= 1
        assert row["latency_ms"]["p99"] >= row["latency_ms"]["p50"] > 0
    thread = next(r for r in rows if r["model"] == "thread" and r["workload"] == "hello")
    assert thread["server_tasks"]["threads"] > 1  # a thread per connection
    report_path, _ = write_all(tmp_path, {"cpu_ms": 5.0}, rows, [], charts=False)
    assert "## churn" in report_path.read_text()


def test_tiny_idle_run() -> None:
    opts = Options(
        models=["uvloop"],
        workloads=select("idle"),
        duration=0.3,
        warmup=0.1,
        references=False,
        idle_steps=(0, 50),
    )
    (row,) = run_all(opts)
    assert row["idle"]["max_held"] == 50 and row["idle"]["limit"] is None
    assert row["idle"]["steps"][0]["pss_mb"] > 0


def test_shared_counter_with_a_lock_loses_nothing() -> None:
    from clients.bench.shared_state import count

    run = count(threads=4, updates=20_000, locked=True)
    assert (run.expected, run.counted, run.lost) == (80_000, 80_000, 0)


def test_shared_state_verdict_reads_both_runs() -> None:
    from clients.bench.analysis import shared_state_verdict

    doc = {
        "unlocked": {"threads": 4, "updates": 10, "expected": 40, "lost": 25, "seconds": 0.01},
        "locked": {"threads": 4, "updates": 10, "expected": 40, "lost": 0, "seconds": 0.02},
    }
    verdict = shared_state_verdict(doc)
    assert verdict is not None and verdict.holds is True
    assert "25 of 40 updates lost" in verdict.measured
    doc["locked"]["lost"] = 1
    assert shared_state_verdict(doc).holds is False  # type: ignore[union-attr]
