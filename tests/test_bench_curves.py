"""The bench's curves and experiments: which runs a curve asks for, how its verdicts read, what its report shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from clients.bench import experiments
from clients.bench.claims import Claim, judge
from clients.bench.experiments import EXPERIMENTS
from clients.bench.harness import Options, build_jobs, server_args
from clients.bench.measures import MEASURES, Results, curve
from clients.bench.placement import Placement
from clients.bench.records import (
    Experiments,
    ForkCost,
    ForkSize,
    HandOver,
    HandOvers,
    Latency,
    Run,
)
from clients.bench.results import write_all
from clients.bench.sampler import minor_faults
from clients.bench.workloads import CONN_SWEEP_RPS, WORKLOADS, select
from common.process_tree import ProcessTree
from servers.registry import model_names, runnable_model_names

TWO_CPUS = Placement((0, 1), (1,), True)


def jobs(workloads: str, models: list[str] | None = None, quick: bool = False) -> list:
    opts = Options(
        models=models or model_names(),
        workloads=select(workloads),
        quick=quick,
        references=False,
        use_wrk=False,
    )
    return build_jobs(opts)


# -- which runs a curve asks for --------------------------------------------------------------


def test_conn_sweep_is_a_run_per_model_and_point_at_the_same_ideal_rate() -> None:
    built = jobs("conn-sweep")
    assert {j.target.name for j in built} == set(runnable_model_names())  # the rest: a note
    for job in built:
        n = job.params.connections
        assert job.params.x == n and job.params.path == f"/io?ms={n // 10}"
        assert job.params.ideal_rps == CONN_SWEEP_RPS == n * 1000 / (n // 10)
    assert sorted({j.params.x for j in built}) == [10, 100, 1000, 5000]
    assert [j.title for j in built][:2] == ["conn-sweep x fork at 10", "conn-sweep x fork at 100"]


def test_quick_keeps_the_models_the_verdicts_need_unless_models_are_named() -> None:
    quick = jobs("conn-sweep", quick=True)
    assert {j.target.name for j in quick} == {"uvloop", "thread"}
    assert {j.params.x for j in quick} == {10, 1000}
    named = jobs("conn-sweep", models=["gevent"], quick=True)
    assert {j.target.name for j in named} == {"gevent"}


def test_cpu_sweep_gives_process_models_workers_and_thread_models_clients() -> None:
    built = {(j.target.name, j.params.x): j for j in jobs("cpu-sweep")}
    assert {m for m, _ in built} == {"multiprocess", "prefork", "thread", "fork"} & set(
        model_names()
    )
    four = built[("multiprocess", 4)]
    assert four.params.connections == 4 and server_args(four).count("--workers") == 1
    assert server_args(four)[server_args(four).index("--workers") + 1] == "4"
    assert built[("thread", 8)].params.connections == 8 and server_args(built[("thread", 8)]) == []


def test_gil_switch_runs_thread_servers_at_each_interval() -> None:
    servers = jobs("gil-switch")
    assert [(j.target.name, j.params.x) for j in servers if j.target.name == "thread"] == [
        ("thread", 0.5),
        ("thread", 5),
        ("thread", 50),
    ]
    assert server_args(servers[0])[-2:] == ["--switch-interval", "0.5"]
    assert servers[0].params.background.startswith("/cpu?n=")
    assert "fork-cost" not in WORKLOADS and "fork-cost" in EXPERIMENTS  # beside the matrix


# -- verdicts read from curves ----------------------------------------------------------------


def point(model: str, workload: str, x: float, cpu: float, rps: float = 1000.0, **more) -> Run:
    more.setdefault("latency_ms", Latency(p50=1.0, p99=2.0))
    return Run(
        model=model,
        workload=workload,
        point=x,
        connections=int(x) if workload == "conn-sweep" else 4,
        rps=rps,
        requests=int(rps * 10),
        server_cpu_us_per_req=cpu,
        placement=TWO_CPUS,
        **more,
    )


def curve_claim(text: str, workload: str, measure: str, model: str, versus=None, **more) -> Claim:
    return Claim(text, text, workload, model, measure, versus=versus, **more)


def checked(claim: Claim, runs: list[Run], found: Experiments | None = None):
    return MEASURES[claim.measure](claim, Results({}, runs, found or Experiments()))


GROWTH = curve_claim("grows", "conn-sweep", "growth", "thread", "uvloop", at=1000, base=10, low=1.2)


def test_growth_compares_the_ratio_at_two_points() -> None:
    runs = [
        point("thread", "conn-sweep", 10, 40.0),
        point("uvloop", "conn-sweep", 10, 20.0),
        point("thread", "conn-sweep", 1000, 90.0),
        point("uvloop", "conn-sweep", 1000, 18.0),
    ]
    verdict = checked(GROWTH, runs)
    assert verdict.holds is True  # 5.0x at 1,000 against 2.0x at 10: 2.5x
    assert verdict.measured.startswith("2.50x: 5.00x at 1,000 (90.0 us vs 18.0 us)")
    runs[2] = point("thread", "conn-sweep", 1000, 39.6)
    assert checked(GROWTH, runs).holds is False  # 2.2x against 2.0x: 1.1x


def test_growth_at_a_point_where_the_model_refuses_is_not_judged() -> None:
    runs = [
        point("fork", "conn-sweep", 10, 60.0),
        point("uvloop", "conn-sweep", 10, 20.0),
        point("fork", "conn-sweep", 100, 66.0),
        point("uvloop", "conn-sweep", 100, 20.0),
        point("fork", "conn-sweep", 1000, 200.0, refused=5000),
        point("uvloop", "conn-sweep", 1000, 18.0),
    ]
    claim = curve_claim(
        "grows", "conn-sweep", "growth", "fork", "uvloop", at=1000, base=10, low=1.2
    )
    verdict = checked(claim, runs)
    assert verdict.holds is None
    assert verdict.measured.startswith("refuses at 1,000 (5,000 of 10,000 answers not 2xx); 1.10x")
    assert "at 100" in verdict.measured


def test_knee_is_where_req_s_stops_rising_and_says_what_more_workers_cost() -> None:
    runs = [
        point("multiprocess", "cpu-sweep", 1, 5000.0, rps=190),
        point("multiprocess", "cpu-sweep", 2, 5000.0, rps=370),
        point("multiprocess", "cpu-sweep", 4, 5100.0, rps=365),
        point("multiprocess", "cpu-sweep", 8, 5200.0, rps=350),
        point("thread", "cpu-sweep", 1, 5000.0, rps=190),
        point("thread", "cpu-sweep", 8, 5000.0, rps=188),
    ]
    knee = curve_claim("knee", "cpu-sweep", "knee", "multiprocess")
    verdict = checked(knee, runs)
    assert verdict.holds is True and verdict.target.startswith("stops rising at 2 (the core count)")
    assert "8 against 2: -5.4% req/s, +4.0% CPU us/req" in verdict.measured
    flat = curve_claim("flat", "cpu-sweep", "knee", "thread", at=1)
    assert checked(flat, runs).holds is True
    assert checked(curve_claim("knee", "cpu-sweep", "knee", "prefork"), runs) is None  # no runs


def test_speedup_and_cores_of_c_code() -> None:
    runs = [
        point("thread", "cpu-c", 1, 2500.0, rps=350, server_cpu_pct=95.0),
        point("thread", "cpu-c", 4, 2600.0, rps=630, server_cpu_pct=188.0),
    ]
    claim = curve_claim("c", "cpu-c", "speedup", "thread", at=4, base=1, low=1.7)
    verdict = checked(claim, runs)
    assert verdict.holds is True and verdict.measured.startswith("1.80x (630 vs 350 req/s)")
    assert "1.88 cores at 4" in verdict.measured
    names = {v.claim: v for v in judge(Results({}, runs))}
    cores = names["cpu-c: thread on C code that releases the GIL uses both cores (4 clients)"]
    assert cores.holds is True and cores.measured == "1.88 cores"


def gil_probe(median_ms: float, bytecodes: float) -> Experiments:
    steps = [
        HandOver(0.5, 400, 0.51, 0.9, bytecodes / 10),
        HandOver(5.0, 200, median_ms, 5.4, bytecodes),
        HandOver(50.0, 100, 50.2, 51.0, bytecodes * 10),
    ]
    probe = HandOvers(
        default_interval_ms=5.0, bytecodes_per_iteration=11.0, steps=steps, own_cpus=True
    )
    return Experiments(gil_switch=probe)


def test_the_hundred_bytecodes_claim_is_outdated_with_the_figures() -> None:
    claim = curve_claim("100", "gil-switch", "handover", "cpython")
    verdict = checked(claim, [], gil_probe(5.02, 2_000_000))
    assert verdict.holds is False and verdict.label == "outdated"
    assert "5.02 ms (median; p99 5.40 ms)" in verdict.measured
    assert (
        "about 2,000,000 bytecodes" in verdict.measured and "at 50 ms: 50.20 ms" in verdict.measured
    )
    assert checked(claim, [], gil_probe(0.001, 110)).label == "holds"


def test_switch_latency_and_fork_size_read_their_runs() -> None:
    runs = [
        point("thread", "gil-switch", x, 100.0, latency_ms=Latency(p99=x * 2), background_rps=20.0)
        for x in (0.5, 5, 50)
    ]
    latency = curve_claim("lat", "gil-switch", "switch_latency", "thread", expect="grows")
    verdict = checked(latency, runs)
    assert verdict.holds is None and "50 ms: p99 100.0 ms, /cpu 20 req/s" in verdict.measured
    sizes = [
        ForkSize("bare", 12.0, 50, 0.3, 0.1, 60.0),
        ForkSize("big", 150.0, 50, 3.6, 1.4, 216.0),
    ]
    fork = Experiments(fork_cost=ForkCost(sizes))
    verdict = checked(curve_claim("size", "fork-cost", "fork_size", "fork", low=2.0), [], fork)
    assert verdict.holds is True and verdict.measured.startswith("12.0x: 0.30 ms at 12.0 MiB")


def test_curve_runs_sort_by_point_and_skip_failures() -> None:
    runs = [point("thread", "cpu-c", 4, 1.0), point("thread", "cpu-c", 1, 1.0)]
    runs.append(Run("thread", "cpu-c", point=2, failed="server did not start"))
    assert [r.point for r in curve(runs, "cpu-c", "thread")] == [1, 4]


# -- records and reports ----------------------------------------------------------------------


def test_experiment_and_curve_records_survive_json(tmp_path: Path) -> None:
    runs = [point("thread", "conn-sweep", 1000, 50.0, refused=3, conn_kib=9.5)]
    again = [Run.from_dict(json.loads(json.dumps(r.to_dict()))) for r in runs]
    assert again == runs
    found = gil_probe(5.0, 1e6)
    found.fork_cost = ForkCost([ForkSize("a", 1.0, 2, 0.3, 0.1, 60)])
    write_experiments(tmp_path, found)
    assert experiments.load(tmp_path) == found


def write_experiments(folder: Path, found: Experiments) -> None:
    """Write the files the experiments' mains would have written into ``folder``."""
    if found.gil_switch is not None:
        experiments.write(str(folder), "gil_switch", asdict(found.gil_switch))
    if found.fork_cost is not None:
        experiments.write(str(folder), "fork_cost", asdict(found.fork_cost))
    for name, why in found.failed.items():
        (folder / EXPERIMENTS[name].file).write_text(json.dumps({"failed": why}))


def test_report_has_curve_tables_charts_and_verdicts(tmp_path: Path) -> None:
    runs = [
        point("uvloop", "conn-sweep", 10, 20.0, conn_kib=None),
        point(
            "uvloop", "conn-sweep", 1000, 18.0, conn_kib=0.5, ideal_rps=10_000.0, efficiency=0.95
        ),
        point("thread", "conn-sweep", 10, 40.0),
        point("thread", "conn-sweep", 1000, 90.0, conn_kib=60.0),
        point("fork", "conn-sweep", 1000, 200.0, refused=40),
        point("thread", "gil-switch", 5, 100.0, background_rps=30.0),
    ]
    found = gil_probe(5.0, 2e6)
    found.fork_cost = ForkCost([ForkSize("bare", 12.0, 50, 0.3, 0.1, 60),
                                ForkSize("big", 50.0, 50, 1.6, 0.5, 216, 31.0, 8400)])  # fmt: skip
    write_experiments(tmp_path, found)
    report, checked_ = write_all(tmp_path, {"cpu_ms": 5.0}, runs, [], charts=True)
    text = report.read_text()
    for section in ("## conn-sweep", "## gil-switch", "## fork-cost"):
        assert section in text
    assert "| thread | 1,000 | 1,000 |" in text  # model, point, req/s of 2xx answers
    assert "| 60.0 |" in text  # thread's KiB per connection
    assert "| < 1.0 |" in text  # uvloop's 500 KiB for 1,000 connections: within PSS's own moves
    assert "| fork | 1,000 |" in text and "refuses" in text
    assert "| 5 | 200 | 5.00 | 5.40 | 2,000,000 |" in text  # the hand-over table
    assert "Two CPU-bound threads, each on a CPU of its own" in text
    assert "| bare | 12.0 | 50 | 300 | 100 | 60 |" in text  # the fork-cost table
    assert "**outdated**" in text
    for chart in (
        "conn-sweep-cpu",
        "conn-sweep-p99",
        "conn-sweep-memory",
        "gil-switch",
        "fork-cost",
    ):
        assert f"({chart}.png)" in text
        assert (tmp_path / f"{chart}.png").read_bytes()[:4] == b"\x89PNG"
    assert any(v.claim.startswith("conn-sweep: the coroutines' advantage") for v in checked_)
    csv_head = (tmp_path / "results.csv").read_text().splitlines()[0]
    assert "point" in csv_head and "refused" in csv_head and "server_minflt_per_req" in csv_head


def test_failed_experiment_and_failed_point_are_shown(tmp_path: Path) -> None:
    write_experiments(
        tmp_path, Experiments(failed={"fork-cost": "clients.bench.fork_cost exited 1: boom"})
    )
    runs = [
        point("thread", "cpu-c", 1, 2500.0),
        Run("thread", "cpu-c", point=4, failed="server did not start", flagged=True),
    ]
    report, _ = write_all(tmp_path, {"cpu_ms": 5.0}, runs, [], charts=False)
    text = report.read_text()
    assert "> fork-cost experiment failed: clients.bench.fork_cost exited 1: boom" in text
    assert "| thread ⚠ | failed: server did not start |" in text
    assert "experiment failed: server did not start" not in text


def test_every_claimed_workload_exists() -> None:
    from clients.bench.claims import CLAIMS

    for claim in CLAIMS:
        assert claim.workload in WORKLOADS or claim.workload in EXPERIMENTS, claim.id
        assert claim.measure in MEASURES, claim.id
    assert len({claim.id for claim in CLAIMS}) == len(CLAIMS)


# -- the experiments and the fault counter ---------------------------------------------------------


def probe(module: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_an_experiment_writes_its_file_into_the_run_folder(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "clients.bench.shared_state", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    found = experiments.load(tmp_path)
    assert found.shared_state is not None and found.shared_state["locked"]["lost"] == 0


def test_gil_switch_probe_sees_hand_overs_between_two_threads() -> None:
    doc = probe("clients.bench.gil_switch", "--quick")
    assert 3 < doc["bytecodes_per_iteration"] < 100
    assert [s["interval_ms"] for s in doc["steps"]] == [0.5, 5.0, 50.0]
    assert doc["own_cpus"] == (len(os.sched_getaffinity(0)) >= 2)
    for step in doc["steps"]:
        assert step["handovers"] >= 3 and step["median_ms"] > 0 and step["bytecodes"] > 0


def test_fork_cost_probe_counts_cpu_and_faults_per_fork() -> None:
    doc = probe("clients.bench.fork_cost", "--forks", "5", "--touch-forks", "1", "--heap-mib", "4")
    assert doc["label"] == "bare + 4 MiB" and doc["forks"] == 5 and doc["rss_mib"] > 4
    assert doc["cpu_ms"] > 0 and doc["faults"] > 0
    assert doc["touch_faults"] > doc["faults"]  # reading every object copies the pages they are on


def test_minor_faults_of_a_tree() -> None:
    assert minor_faults(ProcessTree(os.getpid())) > 0


@pytest.mark.parametrize("name", ["conn-sweep", "cpu-sweep", "cpu-c", "gil-switch"])
def test_curve_workloads_name_their_axis_and_points(name: str) -> None:
    workload = WORKLOADS[name]
    assert workload.curve and workload.axis and workload.points
    assert set(workload.quick_points or workload.points) <= set(workload.points)


def test_an_experiment_that_fails_says_why_in_its_file(tmp_path: Path) -> None:
    broken = experiments.Experiment("fork-cost", "clients.bench.gone.fork_cost", "x", (1.0, 1.0))
    why = experiments.run(broken, tmp_path, quick=True, models=[], server_cpus=[0])
    assert why is not None and "No module named 'clients.bench.gone'" in why
    assert experiments.load(tmp_path).failed == {"fork-cost": why}
