"""The bench: placement, records, verdicts, result files and rendered pages, and a tiny real run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from clients.bench import wrk
from clients.bench.charts import throughput_bars
from clients.bench.claims import Claim, judge
from clients.bench.harness import Options, build_jobs, run_job, summarize_idle
from clients.bench.measures import MEASURES, Results, index, of_reference
from clients.bench.placement import parse_cpus, plan
from clients.bench.records import Experiments, IdleStep, Latency, Probe, Run, Verdict, WrkFigures
from clients.bench.render import ordered, worker_placement
from clients.bench.results import render_results, write_all
from clients.bench.workloads import select
from reporting.charts import Bar

FIXTURE = Path(__file__).parent / "fixtures" / "bench-results"

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


def test_wrk_output_is_parsed() -> None:
    parsed = wrk.parse(WRK_OUTPUT)
    assert parsed.rps == 78000.50
    assert parsed.latency_ms.p99 == pytest.approx(1.25)
    assert parsed.latency_ms.p50 == pytest.approx(0.6)
    assert parsed.latency_ms.max == pytest.approx(4.91)
    assert parsed.errors == 3 and parsed.requests == 156000


def test_placement() -> None:
    assert parse_cpus("0,2-3") == (0, 2, 3)
    placement = plan((0,), (1,))
    assert placement.server_cpus == (0,) and placement.loader_cpus == (1,) and not placement.shared
    assert plan((0,), (1,), all_cpus_for_server=True).server_cpus == tuple(
        sorted(__import__("os").sched_getaffinity(0))
    )


def _run(model: str, workload: str, rps: float, cpu: float, **more: object) -> Run:
    return Run(
        model=model,
        workload=workload,
        reference=model.startswith("ref-"),
        rps=rps,
        server_cpu_us_per_req=cpu,
        latency_ms=Latency(p50=1.0, p90=1.0, p99=2.0, p999=3.0, max=4.0),
        **more,  # type: ignore[arg-type]
    )


def synthetic() -> list[Run]:
    return [
        _run("uvloop", "hello", 80_000, 12.0),
        _run("ref-aiohttp", "hello", 40_000, 25.0),
        _run("ref-bare", "hello", 100_000, 8.0, loader_bound=True, wrk=WrkFigures(rps=120_000)),
        _run("thread", "echo-1k", 50_000, 14.0),
        _run("ref-echo-thread", "echo-1k", 60_000, 10.0),
        _run("multiprocess", "cpu", 390, 5000.0),
        _run("thread", "cpu", 200, 5000.0, server_cpu_pct=101.0),
        _run("fork", "churn", 5_000, 780.0),
        _run("uvloop", "churn", 9_000, 40.0),
    ]


def test_verdicts_say_which_targets_hold() -> None:
    runs = synthetic()
    checked = {v.claim: v for v in judge(Results({}, runs))}
    assert checked["hello: uvloop req/s vs ref-aiohttp"].holds is True  # 2.0x
    assert checked["hello: uvloop CPU us/req vs ref-aiohttp"].holds is True  # 0.48x
    assert checked["hello: uvloop req/s vs ref-bare"].holds is True  # 80k of wrk's 120k
    assert checked["echo-1k: thread CPU us/msg vs ref-echo-thread"].holds is False  # 1.4x
    assert checked["echo-1k: thread CPU us/msg vs ref-echo-thread"].measured == (
        "1.40x (14.0 us vs 10.0 us)"
    )
    assert checked["cpu: multiprocess req/s vs thread"].holds is True
    assert checked["cpu: thread uses one core (the GIL)"].holds is True
    churn = checked["churn: fork server CPU us per connection beyond uvloop's"]
    assert churn.holds is None and churn.measured.startswith("740.0 us")  # reported, not judged
    assert "hello: asyncio req/s vs aiohttp.web on the stdlib loop" not in checked  # no runs
    uv = next(r for r in runs if r.model == "uvloop" and r.workload == "hello")
    by = index(runs)
    assert of_reference(uv, by, "ref-aiohttp") == pytest.approx(2.0)
    assert of_reference(uv, by, "ref-bare") == pytest.approx(80 / 120)


def test_one_function_reads_any_figure_claim() -> None:
    runs = synthetic()
    claim = Claim(
        "c", "hello: uvloop CPU under 10 us", "hello", "uvloop", figure="cpu_us", high=10.0
    )
    checked = MEASURES["figure"](claim, Results({}, runs))
    assert checked is not None and checked.holds is False and checked.target == "<= 10.0 us"
    assert checked.id == "c" and checked.value == 12.0
    absent = Claim("x", "x", "hello", "gevent", figure="rps", low=1)
    assert judge(Results({}, runs), [absent]) == []  # no such run: left out
    idle = Run("asyncio", "idle")
    summarize_idle(idle, [_step(0, 0, 10.0, 1.0), _step(500, 500, 12.0, 1.5)])
    few = Claim("few", "idle KiB", "idle", "asyncio", figure="idle_kib", high=6.0,
                needs=("idle_held", 10_000))  # fmt: skip
    checked = MEASURES["figure"](few, Results({}, [*runs, idle]))
    assert checked is not None and checked.holds is None  # 4.1 KiB passes, but at 500 only
    assert checked.measured == "4.1 KiB, 500 held"


def _step(target: int, held: int, pss: float, p99: float, refused: int = 0) -> IdleStep:
    return IdleStep(
        target=target,
        held=held,
        refused=refused,
        pss_mb=pss,
        rss_mb=pss,
        processes=1,
        threads=1,
        probe=Probe(rps=1000.0, latency_ms=Latency(p99=p99)),
    )


def test_idle_summary_per_connection_and_limit() -> None:
    run = Run("uvloop", "idle")
    summarize_idle(
        run,
        [_step(0, 0, 10.0, 1.0), _step(1000, 1000, 12.0, 2.0), _step(2500, 2000, 20.0, 9.0, 500)],
    )
    idle = run.idle
    assert idle is not None and idle.max_held == 1000
    assert idle.per_conn_kib == pytest.approx(2 * 1024 / 1000)
    assert idle.limit is not None and idle.limit.held == 2000 and idle.limit.refused == 500
    assert idle.p99_ratio == pytest.approx(2.0)


def test_records_survive_json() -> None:
    runs = synthetic()
    summarize_idle(runs[0], [_step(0, 0, 10.0, 1.0)])
    again = [Run.from_dict(json.loads(json.dumps(r.to_dict()))) for r in runs]
    assert again == runs
    assert Run.from_dict({"model": "m", "workload": "w", "added_later": 1}) == Run("m", "w")


def test_result_files(tmp_path: Path) -> None:
    machine = {"cpu_model": "test", "cpu_ms": 5.0, "git_commit": "abc1234"}
    report_path, checked = write_all(tmp_path, machine, synthetic(), ["a note"], charts=True)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert set(doc) >= {"machine", "runs", "verdicts"}
    run = doc["runs"][0]
    assert {"model", "workload", "rps", "latency_ms", "errors", "server_cpu_us_per_req"} <= set(run)
    rows = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert len(rows) == len(synthetic()) and rows[0]["model"] == "uvloop"
    assert rows[2]["wrk_rps"] == "120000" and rows[0]["latency_p99_ms"] == "2.0"
    text = report_path.read_text()
    assert "## hello" in text and "*ref-aiohttp* (ref)" in text and "> a note" in text
    assert ">= 100,000" in text  # a loader-bound figure is a floor
    assert "- Commit abc1234" in text
    assert "(throughput-hello.png)" in text and (tmp_path / "throughput-hello.png").exists()


def test_throughput_chart_shows_the_table_figures() -> None:
    rows = ordered("hello", synthetic())
    bars = {b.name: b for b in throughput_bars(rows)}
    bare = bars["ref-bare"]
    assert (bare.value, bare.floor, bare.marker) == (
        100_000,
        True,
        120_000,
    )  # as the table: ">= 100,000"
    assert [b.name for b in throughput_bars(rows)] == [r.model for r in rows]  # the table's order
    assert bars["uvloop"] == Bar("uvloop", 80_000)


def test_placement_of_workers_is_said_once() -> None:
    same = {"1": [0], "2": [0], "3": [0]}
    runs = [Run("multiprocess", w, server_cpus_by_pid=same) for w in ("hello", "echo-1k", "churn")]
    runs.append(Run("multiprocess", "cpu", server_cpus_by_pid={"1": [0, 1], "2": [0, 1]}))
    text = worker_placement(runs)
    assert text.count("3 processes on CPUs 0") == 1
    assert "`cpu`: 2 processes on CPUs 0,1" in text
    assert "`hello`" not in text and "`churn`" not in text
    assert worker_placement(runs[:3]).endswith("in every workload.\n")


def test_render_a_docs_page_from_results_json(tmp_path: Path) -> None:
    page = render_results(FIXTURE, tmp_path / "docs" / "results.md")
    text = page.read_text()
    assert text.startswith("# Results\n")
    assert "- Commit 1a2b3c4, 2026-11-25T09:27:20+00:00" in text
    assert "- CPU: Test CPU @ 3.00GHz (2 CPUs), 7.8 GiB RAM" in text
    assert f"iomodels bench --render {FIXTURE} --to {tmp_path / 'docs' / 'results.md'}" in text
    assert "| uvloop | >= 70,000 | 90,000 |" in text  # ours in req/s, a floor; wrk beside it
    assert "hello: uvloop req/s vs ref-bare" in text
    assert "](results/throughput-hello.png)" in text
    assert (tmp_path / "docs" / "results" / "throughput-hello.png").read_bytes()[:4] == b"\x89PNG"
    assert not (FIXTURE / "report.md").exists()  # the results folder is only read


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
    rows = [run_job(job, opts) for job in build_jobs(opts)]
    assert len(rows) == 6
    for row in rows:
        assert row.ok, row
        assert row.rps and row.rps > 0 and row.errors == 0
        assert row.server_cpu_us_per_req and row.server_cpu_us_per_req > 0
        assert (row.server_tasks.processes or 0) >= 1
        assert row.latency_ms is not None
        assert (row.latency_ms.get("p99") or 0) >= (row.latency_ms.get("p50") or 0) > 0
    thread = next(r for r in rows if r.model == "thread" and r.workload == "hello")
    assert (thread.server_tasks.threads or 0) > 1  # a thread per connection
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
    (row,) = [run_job(job, opts) for job in build_jobs(opts)]
    assert row.idle is not None and row.idle.max_held == 50 and row.idle.limit is None
    assert (row.idle.steps[0].pss_mb or 0) > 0


def test_shared_counter_with_a_lock_loses_nothing() -> None:
    from clients.bench.shared_state import count

    run = count(threads=4, updates=20_000, locked=True)
    assert (run.expected, run.counted, run.lost) == (80_000, 80_000, 0)


def test_shared_state_verdict_reads_both_runs() -> None:
    from clients.bench.claims import CLAIMS_BY_ID

    claim = CLAIMS_BY_ID["shared-counter"]

    def shared_state_verdict(doc: dict) -> Verdict | None:
        return MEASURES[claim.measure](claim, Results({}, [], Experiments(shared_state=doc)))

    doc = {
        "unlocked": {"threads": 4, "updates": 10, "expected": 40, "lost": 25, "seconds": 0.01},
        "locked": {"threads": 4, "updates": 10, "expected": 40, "lost": 0, "seconds": 0.02},
    }
    verdict = shared_state_verdict(doc)
    assert verdict is not None and verdict.holds is True
    assert "25 of 40 updates lost" in verdict.measured
    doc["locked"]["lost"] = 1
    assert shared_state_verdict(doc).holds is False  # type: ignore[union-attr]


def test_ctrl_c_keeps_and_renders_the_finished_runs(tmp_path: Path) -> None:
    """A real ``iomodels bench`` of two runs, interrupted (SIGINT) once the first has finished."""
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-m", "iomodels", "bench", "--models", "asyncio"]
    command += ["--workloads", "hello,echo-1k", "--duration", "3", "--warmup", "0.1"]
    command += ["--no-references", "--no-wrk", "--no-charts", "--out", str(tmp_path)]
    bench = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    assert bench.stderr is not None
    lines = []
    for line in bench.stderr:  # piped: plain lines, one per finished run
        lines.append(line)
        if line.lstrip().startswith("1/2 "):
            bench.send_signal(signal.SIGINT)
            break
    rest = bench.stderr.read()
    assert bench.wait(timeout=60) == 130, "".join(lines) + rest
    (folder,) = tmp_path.iterdir()
    assert f"interrupted; partial results in {folder}/" in rest
    assert "Traceback" not in rest
    report = (folder / "report.md").read_text()
    assert "> interrupted (Ctrl-C) after 1 of 2 runs: the rest were not measured" in report
    assert "## hello" in report and "## echo-1k" not in report
    doc = json.loads((folder / "results.json").read_text())
    assert [(r["workload"], r["model"]) for r in doc["runs"]] == [("hello", "asyncio")]
