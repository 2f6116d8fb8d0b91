"""The pooled models' predictions (Little's law) and the verdicts that check them."""

from __future__ import annotations

import pytest

from clients.bench.claims import judge
from clients.bench.measures import Results, predicted_rps
from clients.bench.placement import Placement
from clients.bench.records import Run
from clients.bench.results import check
from clients.bench.targets import MODELS, REFERENCES, sizing_args
from servers.models.threadpool import DEFAULT_THREADS
from servers.registry import MODELS as REGISTRY


def _run(
    model: str, workload: str, rps: float, cpu: float, cpus: int = 1, connections: int = 0
) -> Run:
    return Run(
        model=model,
        workload=workload,
        rps=rps,
        server_cpu_us_per_req=cpu,
        connections=connections or (500 if workload == "io-wait" else 50),
        placement=Placement(server_cpus=tuple(range(cpus)), loader_cpus=(cpus,), shared=False),
    )


def test_a_pool_predicts_n_over_the_wait() -> None:
    assert predicted_rps(_run("prefork", "io-wait", 0, 0, cpus=1)) == pytest.approx(20.0)
    assert predicted_rps(_run("prefork", "io-wait", 0, 0, cpus=2)) == pytest.approx(40.0)
    assert predicted_rps(_run("ref-gunicorn-sync", "io-wait", 0, 0, cpus=4)) == pytest.approx(80.0)
    assert predicted_rps(_run("threadpool", "io-wait", 0, 0)) == pytest.approx(DEFAULT_THREADS * 20)
    few = _run("threadpool", "io-wait", 0, 0, connections=10)
    assert predicted_rps(few) == pytest.approx(200.0)  # no more at once than there are clients
    assert predicted_rps(_run("uvloop", "io-wait", 0, 0)) is None  # not bounded by a pool
    assert predicted_rps(_run("prefork", "hello", 0, 0)) is None  # nothing waits


def test_the_registry_holds_the_pools_default() -> None:
    assert REGISTRY["threadpool"].pool_default == DEFAULT_THREADS
    assert REFERENCES["ref-gunicorn-gthread"].serves_at_once(4) == DEFAULT_THREADS
    assert MODELS["prefork"].serves_at_once(3) == 3 and MODELS["thread"].serves_at_once(3) is None


def test_pool_claims_say_which_targets_hold() -> None:
    runs = [
        _run("prefork", "io-wait", 19.5, 0),  # -2.5%: holds
        _run("threadpool", "io-wait", 500.0, 0),  # -22%: does not
        _run("prefork", "churn", 0, 60.0),
        _run("fork", "churn", 0, 600.0),  # 0.1x: holds
        _run("prefork", "hello", 0, 30.0),
        _run("ref-gunicorn-sync", "hello", 0, 100.0),  # 0.3x: holds
        _run("uvloop", "hello", 0, 20.0),
        _run("ref-uvicorn", "hello", 0, 25.0),  # 0.8x: does not
        _run("gevent", "hello", 0, 20.0),
        _run("ref-gunicorn-gevent", "hello", 0, 80.0),  # no target: reported
    ]
    checked = {v.claim: v for v in check({}, runs)}
    prefork_wait = checked["io-wait: prefork req/s vs N / 0.05 s (Little's law)"]
    assert prefork_wait.holds is True and "20 req/s predicted" in prefork_wait.measured
    assert checked["io-wait: threadpool req/s vs N / 0.05 s (Little's law)"].holds is False
    churn = "churn: prefork (processes made once) vs fork (one each), CPU us per connection"
    assert checked[churn].holds is True
    assert checked["hello: prefork CPU us/req vs ref-gunicorn-sync"].holds is True
    assert checked["hello: uvloop CPU us/req vs ref-uvicorn"].holds is False
    assert checked["hello: gevent CPU us/req vs ref-gunicorn-gevent"].holds is None
    assert (
        "hello: threadpool CPU us/req vs ref-gunicorn-gthread" not in checked
    )  # no counterpart ran
    assert len(judge(Results({}, runs))) == len(checked)


def test_processes_sized_targets_get_one_worker_per_server_cpu() -> None:
    assert sizing_args(MODELS["prefork"], (0, 1)) == ["--workers", "2"]
    assert sizing_args(MODELS["multiprocess"], (0,)) == ["--workers", "1"]
    assert sizing_args(REFERENCES["ref-gunicorn-sync"], (0,)) == ["--workers", "1"]
    assert sizing_args(MODELS["threadpool"], (0,)) == []
    assert sizing_args(REFERENCES["ref-gunicorn-gthread"], (0,)) == []


def test_a_target_can_name_another_python_and_the_model_it_serves() -> None:
    import sys

    from clients.bench.targets import Target, TargetProcess

    other = Target(
        "thread-other",
        "the thread model under another build",
        python="/opt/py/bin/python3",
        model="thread",
    )
    command = TargetProcess(other, "http", cpus=(0,)).command()
    assert (
        command[command.index("-m") - 1] == "/opt/py/bin/python3" and sys.executable not in command
    )
    assert command[command.index("--model") + 1] == "thread"
    ref = REFERENCES["ref-bare"]
    assert TargetProcess(ref, "http", cpus=(0,)).command()[0] == sys.executable
