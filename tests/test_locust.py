"""Locust users, plugin and targets, each run in its own process (Locust monkey-patches with gevent).

Never import locust here: only the pure helpers of ``loadtests`` that do not.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from common.process_tree import ProcessTree
from loadtests.bucketing import fine_bucket, format_ms
from loadtests.launch import LocustRun
from loadtests.loader_cpu import LoaderCpu, LoaderSample
from loadtests.results import read_run
from loadtests.samples import SUMMARY_LABELS
from loadtests.server_stats import ServerProbe
from loadtests.svg_chart import line_chart, sparkline
from servers.launcher import ServerProcess
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]


def run_locust(
    host: str,
    classes: list[str],
    out_dir: Path,
    *,
    seconds: int = 3,
    users: int = 5,
    spawn_rate: float = 0,
    extra: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """A short headless run writing every output into ``out_dir`` (every user at once by default)."""
    spec = LocustRun(
        host=host,
        classes=classes,
        users=users,
        spawn_rate=spawn_rate or users,
        run_time=f"{seconds}s",
        out_dir=out_dir,
        extra=["--server-stats-interval", "0.5", *(extra or [])],
    )
    return subprocess.run(spec.command(), capture_output=True, text=True, timeout=90, cwd=ROOT)


def explain(proc: subprocess.CompletedProcess[str], out_dir: Path) -> str:
    log = out_dir / "locust.log"
    return f"exit {proc.returncode}\nstdout:{proc.stdout[-2000:]}\nstderr:{proc.stderr[-2000:]}\nlog:{log.read_text()[-3000:] if log.exists() else ''}"


# -- pure helpers -------------------------------------------------------------------
def test_fine_buckets_keep_hundredths_below_10ms() -> None:
    assert fine_bucket(0.123) == 0.12
    assert fine_bucket(0.004) == 0.0
    assert fine_bucket(9.876) == 9.88
    assert fine_bucket(12.34) == 12.3
    assert fine_bucket(1234.5) == 1230
    assert format_ms(0.456) == "0.46"
    assert format_ms(None) == "0"


def test_loader_bound_needs_a_quarter_of_saturated_samples() -> None:
    cpu = LoaderCpu(threshold_pct=90.0)
    cpu.running = [LoaderSample(50, 50, 1, 40)] * 3 + [LoaderSample(99, 99, 1, 90)]
    assert cpu.loader_bound
    cpu.running = [LoaderSample(50, 50, 1, 40)] * 4 + [LoaderSample(99, 99, 1, 90)]
    assert not cpu.loader_bound
    assert cpu.summary()["loader_cpu_busiest_peak_pct"] == 99


def test_charts_render() -> None:
    line = sparkline([1, 2, 3])
    assert len(line) == 3 and line[0] == "▁" and line[-1] == "█"
    svg = line_chart("RSS", [0, 1, 2], [10, 20, 15], " MB")
    assert svg.startswith("<svg") and "polyline" in svg and "RSS" in svg


# -- users against live servers -----------------------------------------------------
@pytest.mark.parametrize("user_class", ["WebsiteUser", "HelloUser", "IoUser", "CpuUser"])
def test_http_user_runs_without_failures(
    start_server: Callable[..., ServerProcess], tmp_path: Path, user_class: str
) -> None:
    server = start_server("asyncio")
    proc = run_locust(server.url, [user_class], tmp_path, extra=["--io-ms", "5", "--cpu-n", "500"])
    result = read_run(tmp_path)
    assert proc.returncode == 0, explain(proc, tmp_path)
    assert result["requests"] > 0
    assert result["failures"] == 0


def test_echo_user_runs_without_failures(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("gevent", protocol="echo")
    proc = run_locust(
        server.url,
        ["EchoUser"],
        tmp_path,
        extra=["--message-size", "4096", "--server-pid", str(server.pid)],
    )
    result = read_run(tmp_path)
    assert proc.returncode == 0, explain(proc, tmp_path)
    assert result["requests"] > 0 and result["failures"] == 0
    # no /stats on an echo server: the plugin reads the process through psutil
    assert result["server_rss_peak_mb"] > 0


@pytest.fixture
def closing_server() -> Iterator[str]:
    """A TCP server that answers half of the first message and closes the connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                data = conn.recv(64)
                conn.sendall(data[: len(data) // 2])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"echo://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(5)
    listener.close()


def test_echo_user_reports_early_close(closing_server: str, tmp_path: Path) -> None:
    proc = run_locust(
        closing_server, ["EchoUser"], tmp_path, seconds=2, users=2, extra=["--message-size", "64"]
    )
    result = read_run(tmp_path)
    assert proc.returncode == 1, explain(proc, tmp_path)  # Locust exits 1 when requests failed
    assert result["failures"] > 0
    failures = (tmp_path / "locust_failures.csv").read_text()
    assert "ConnectionClosed" in failures and "closed the connection after" in failures


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("classes", [["WebsiteUser"], ["HelloUser", "IoUser", "CpuUser"]])
def test_a_refused_target_is_counted_as_refused_in_one_line(
    classes: list[str], tmp_path: Path
) -> None:
    """A real Locust run against a closed port: every failure names its cause, no traceback."""
    from loadtests.cli_loadtest import nothing_answered

    host = f"http://127.0.0.1:{closed_port()}"
    proc = run_locust(host, classes, tmp_path, seconds=2, users=3)
    log = (tmp_path / "locust.log").read_text()
    assert proc.returncode == 1, explain(proc, tmp_path)
    assert "Traceback" not in proc.stderr + proc.stdout + log, explain(proc, tmp_path)
    result = read_run(tmp_path)
    assert result["requests"] == result["failures"] > 0
    assert list(result["failure_kinds"]) == ["ConnectionRefusedError(111, 'Connection refused')"]
    assert log.count(f"the host {host} does not answer (ConnectionRefusedError") == 1
    said = nothing_answered(
        {**result, "host": host}
    )  # what `make loadtest HOST=` prints instead of a table
    assert (
        said.startswith(f"the host {host} does not answer: ") and "ConnectionRefusedError" in said
    )


def test_a_run_that_was_answered_has_something_to_report() -> None:
    from loadtests.cli_loadtest import nothing_answered

    assert nothing_answered({"requests": 10, "failures": 9}) == ""
    assert "no request was sent" in nothing_answered({"requests": 0, "failures": 0})


def test_the_probe_does_not_count_its_own_polls(
    start_server: Callable[..., ServerProcess],
) -> None:
    """An idle server serves 0 requests/s, not the probe's one GET /stats per read."""
    server = start_server("asyncio")
    probe = ServerProbe(server.url)
    probe.read()
    rates = []
    for _ in range(3):
        time.sleep(0.3)
        rates.append(probe.read()["rps"])
    assert rates == [0.0, 0.0, 0.0]
    urllib.request.urlopen(server.url + "/", timeout=5).read()
    time.sleep(0.3)
    assert probe.read()["rps"] > 0


# -- the /stats plugin --------------------------------------------------------------
def test_server_stats_arrive_in_the_outputs(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    server = start_server("thread")
    proc = run_locust(server.url, ["IoUser"], tmp_path, users=8, extra=["--io-ms", "20"])
    assert proc.returncode == 0, explain(proc, tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["model"] == "thread"
    assert summary["server_rss_peak_mb"] > 0
    assert summary["server_connections_peak"] >= 1
    assert summary["server_threads_peak"] >= 2  # a thread per connection
    assert summary["server_cpu_mean_pct"] is not None  # local server: CPU through psutil
    assert isinstance(summary["loader_bound"], bool)
    assert set(summary) <= set(SUMMARY_LABELS)  # the report and /server-stats name every figure
    report = (tmp_path / "report.html").read_text()
    section = report[report.index('<section id="iomodels-server-stats"') :]
    assert "server_cpu_mean_pct" not in section and "server CPU, mean" in section
    rows = (tmp_path / "locust_server_stats.csv").read_text().splitlines()
    assert rows[0].startswith("timestamp,elapsed_s,state,server_cpu_pct,server_rss_mb")
    assert len(rows) > 2
    html = (tmp_path / "report.html").read_text()
    assert "iomodels-server-stats" in html and "<svg" in html
    assert "server thread: CPU mean" in (tmp_path / "locust.log").read_text()


# -- make locust ----------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return resp.status, resp.read()


def ui_status(url: str) -> int | None:
    """The status of ``GET url``, or None while nothing answers there."""
    try:
        return get(url)[0]
    except OSError:
        return None


def ctrl_c(proc: subprocess.Popen[str]) -> str:
    """What Ctrl-C in a terminal does (SIGINT to the whole group); the output. Killed if it hangs."""
    try:
        os.killpg(proc.pid, signal.SIGINT)
        return proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_make_locust_serves_the_ui_and_stops_cleanly() -> None:
    port = free_port()
    proc = subprocess.Popen(
        ["make", "-s", "locust", "MODEL=asyncio", f"WEB_PORT={port}"],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = wait_until(
            lambda: ui_status(f"http://127.0.0.1:{port}/") or proc.poll() is not None,
            60,
            interval=0.3,
            what="the web UI answering",
        )
        assert status == 200, "the web UI never answered"
        status, body = get(f"http://127.0.0.1:{port}/stats/requests")
        assert status == 200
        assert any(e["key"] == "iomodels" for e in json.loads(body)["extended_stats"])
        # bound to loopback only: the UI's listening socket is on 127.0.0.1
        tree = ProcessTree(proc.pid).processes()
        listening = {
            c.laddr
            for p in tree
            for c in p.net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        }
        assert listening and all(addr.ip == "127.0.0.1" for addr in listening)
    finally:
        out = ctrl_c(proc)
    # make itself dies of the SIGINT (as after Ctrl-C in a shell); what it ran stopped cleanly
    assert proc.returncode in (0, -signal.SIGINT), out
    assert "stopped: Locust and the server are down" in out
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    with pytest.raises(OSError):
        get(f"http://127.0.0.1:{port}/")


# -- compare ---------------------------------------------------------------------------
@pytest.mark.slow
def test_compare_two_models_writes_one_report(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "iomodels",
            "compare",
            "--models",
            "asyncio",
            "thread",
            "--classes",
            "HelloUser",
            "--users",
            "5",
            "--duration",
            "3s",
            "--results-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (report_dir,) = tmp_path.glob("compare-*")
    results = json.loads((report_dir / "results.json").read_text())["results"]
    assert [r["model"] for r in results] == ["asyncio", "thread"]
    assert all(r["requests"] > 0 and r["failures"] == 0 for r in results)
    assert (report_dir / "report.md").read_text().count("| asyncio |") == 1
    assert (report_dir / "rps.png").exists() and (report_dir / "latency.png").exists()


def test_ctrl_c_in_a_swarm_stops_without_a_traceback() -> None:
    """Ctrl-C while users run: the clean "stopped" line, no gevent KeyboardInterrupt traceback."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "iomodels", "locust", "--web-port", str(port), "--users", "4"],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until(lambda: ui_status(url) or proc.poll() is not None, 60, interval=0.3)
        form = urllib.parse.urlencode(
            {"user_count": 4, "spawn_rate": 4, "user_classes": "HelloUser", "think_ms": 20}
        ).encode()
        with urllib.request.urlopen(url + "swarm", data=form, timeout=5) as resp:
            assert json.loads(resp.read())["success"]
        wait_until(lambda: "running" in get(url + "stats/requests")[1].decode(), 30)
        time.sleep(1)
    finally:
        out = ctrl_c(proc)
    assert "stopped: Locust and the server are down" in out
    assert "Traceback" not in out and "KeyboardInterrupt" not in out, out


def test_the_loader_chart_draws_the_rule_it_judges_by(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bar reaches the line exactly when the run is loader-bound (a quarter of the samples at
    >= 80%), whatever the mean CPU: 50% mean with 30% of the samples saturated is a YES."""
    from loadtests import compare_report

    drawn: dict[str, Any] = {}
    monkeypatch.setattr(
        compare_report,
        "bar_chart",
        lambda path, title, bars, ylabel, **kw: drawn.update(kw, bars=bars),
    )
    results = [
        {"loader_cpu_busiest_mean_pct": 50.0, "loader_saturated_share": 0.3, "loader_bound": True},
        {"loader_cpu_busiest_mean_pct": 85.0, "loader_saturated_share": 0.1, "loader_bound": False},
    ]
    compare_report.loader_chart(tmp_path / "loader_cpu.png", ["fork", "thread"], results)
    line, _ = drawn["hline"]
    for bar, result in zip(drawn["bars"], results, strict=True):
        assert (bar.value >= line) == result["loader_bound"], (bar, line)


def test_a_headless_run_measures_from_the_end_of_the_ramp(
    start_server: Callable[..., ServerProcess], tmp_path: Path
) -> None:
    """Two users started at one a second: the figures start once both run, not during the ramp."""
    server = start_server("asyncio")
    proc = run_locust(
        server.url,
        ["HelloUser"],
        tmp_path,
        seconds=4,
        users=2,
        spawn_rate=1,
        extra=["--think-ms", "20"],
    )
    assert proc.returncode == 0, explain(proc, tmp_path)
    log = (tmp_path / "locust.log").read_text().splitlines()
    spawned = next(line for line in log if "All users spawned" in line)
    started = next(line for line in log if "Ramping to" in line)

    def at(line: str) -> float:
        stamp = line[1 : line.index("]")]  # [2026-12-05 21:05:15,754]
        return time.mktime(time.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")) + int(stamp[20:]) / 1000

    assert at(spawned) - at(started) >= 0.9  # there was a ramp
    entries = json.loads((tmp_path / "stats.json").read_text())
    assert min(entry["start_time"] for entry in entries) >= at(spawned) - 0.2
    # the plugin's server and loader figures cover the same steady part
    with open(tmp_path / "locust_server_stats.csv", newline="") as file:
        states = [row["state"] for row in csv.DictReader(file)]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "spawning" in states and summary["samples"] == states.count("running")


def test_locust_exiting_before_any_request_is_said_so() -> None:
    """Locust refusing its own arguments sends nothing: the line says Locust failed, not the host."""
    from loadtests.cli_loadtest import nothing_answered

    said = nothing_answered({"requests": 0, "failures": 0, "locust_exit_code": 2, "host": "x"})
    assert (
        said.startswith("Locust exited 2 before sending a request")
        and "does not answer" not in said
    )


def test_a_run_against_a_given_host_is_filed_under_the_host() -> None:
    import argparse

    from loadtests.cli_loadtest import run_label

    assert run_label(argparse.Namespace(model="asyncio", host=None)) == "asyncio"
    given = argparse.Namespace(model="asyncio", host="http://127.0.0.1:18999")
    assert run_label(given) == "host-127.0.0.1-18999"
