"""Locust across test hosts (network namespaces): a real run, its cleanup in every ending, the refusals.

The runs need root and ``ip``; without them those tests skip and say why. What
they prove: the server, the master and each worker ran on hosts of their own
(the server bound a test host's address, the master saw every worker connect),
and afterwards no namespace or link of the run is left (``ip netns list``,
``ip link``), after success, after a server that fails to start, and after
SIGINT.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from common import netns
from common.netns import HostNetwork, NetnsUnavailable, check_support, leftovers, parse_rate
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]


def _why_not() -> str:
    try:
        check_support(shaping=True)
    except NetnsUnavailable as exc:
        return str(exc)
    return ""


needs_netns = pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "netns available")


def loadtest(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``iomodels loadtest ARGS`` in a subprocess (its pid names its namespaces: ``iomt<pid>-``)."""
    return subprocess.Popen(
        [sys.executable, "-m", "iomodels", "loadtest", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def short_run(out: Path, *more: str) -> list[str]:
    base = ["--classes", "HelloUser", "--users", "4", "--spawn-rate", "4"]
    return [*base, "--results-dir", str(out), *more]


def tag_of(proc: subprocess.Popen[str]) -> str:
    return f"{netns.PREFIX}{proc.pid}-"


# -- pure parts --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "bits"),
    [("512kbit", 512_000), ("100mbit", 100_000_000), ("1gbit", 10**9), ("1.5Mbit", 1_500_000)],
)
def test_link_rates_read_as_tc_writes_them(text: str, bits: int) -> None:
    assert parse_rate(text) == bits


@pytest.mark.parametrize("text", ["100", "fast", "10mbps", "1kbit", "1tbit", "-5mbit"])
def test_bad_link_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="link rate|out of range"):
        parse_rate(text)


def test_not_root_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(NetnsUnavailable, match="need root"):
        check_support()


def test_no_ip_command_exits_2_with_one_line(tmp_path: Path) -> None:
    proc = loadtest(
        "--test-hosts",
        "1",
        "--results-dir",
        str(tmp_path),
        env={**os.environ, "PATH": str(tmp_path)},
    )
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err
    (line,) = err.strip().splitlines()
    expected = "'ip' command" if os.geteuid() == 0 else "need root"
    assert line.startswith("iomodels loadtest: error: ") and expected in line
    assert not list(tmp_path.glob("locust-*"))


def test_bad_link_rate_and_link_rate_alone_exit_2(tmp_path: Path) -> None:
    bad = loadtest("--test-hosts", "1", "--link-rate", "fast")
    _, err = bad.communicate(timeout=60)
    assert bad.returncode == 2 and "'fast' is not a link rate" in err
    alone = loadtest("--link-rate", "10mbit", "--results-dir", str(tmp_path))
    _, err = alone.communicate(timeout=60)
    assert alone.returncode == 2
    assert err.strip() == "iomodels loadtest: error: --link-rate needs --test-hosts"


# -- the network alone -------------------------------------------------------------------
@needs_netns
def test_hosts_reach_each_other_and_go_away() -> None:
    with HostNetwork(["a", "b"]) as network:
        assert sorted(h for h in netns.namespaces() if h.startswith(network.tag)) == [
            f"{network.tag}a",
            f"{network.tag}b",
            f"{network.tag}switch",
        ]
        code = "import socket,sys; socket.create_connection((sys.argv[1], 9), timeout=5)"
        reached = subprocess.run(
            [*network["a"].exec_prefix(), sys.executable, "-c", code, network["b"].address],
            capture_output=True,
            text=True,
        )
        assert "ConnectionRefusedError" in reached.stderr  # b answered (nothing listens on 9)
    assert leftovers(network.tag) == []


@needs_netns
def test_link_rate_holds_a_transfer_back() -> None:
    """1 MB over a 4 Mbit/s link takes 2 s; unshaped it takes milliseconds: more than 1 s proves the shaping."""
    size = 1_000_000
    with HostNetwork(["sender", "receiver"], link_rate=4_000_000) as network:
        receiver = network["receiver"]
        sink = (
            f"import socket; s = socket.create_server(({receiver.address!r}, 5000));"
            "print('ready', flush=True);"
            "c, _ = s.accept(); n = 0\n"
            "while (b := c.recv(65536)): n += len(b)\n"
            "print(n)"
        )
        server = subprocess.Popen(
            [*receiver.exec_prefix(), sys.executable, "-c", sink], stdout=subprocess.PIPE, text=True
        )
        assert server.stdout is not None and server.stdout.readline() == "ready\n"
        send = (
            "import socket, sys, time; c = socket.create_connection((sys.argv[1], 5000));"
            f"t = time.monotonic(); c.sendall(bytes({size})); c.shutdown(socket.SHUT_WR);"
            "c.recv(1); print(time.monotonic() - t)"
        )
        sent = subprocess.run(
            [*network["sender"].exec_prefix(), sys.executable, "-c", send, receiver.address],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert int(server.communicate(timeout=30)[0]) == size
        assert float(sent.stdout) > 1.0, sent.stdout + sent.stderr
    assert leftovers(network.tag) == []


@needs_netns
def test_stale_namespaces_of_a_dead_run_are_swept() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"{netns.PREFIX}{dead.pid}-worker1"
    subprocess.run(["ip", "netns", "add", name], check=True)
    assert name in netns.sweep_stale()
    assert name not in netns.namespaces()


# -- whole runs --------------------------------------------------------------------------
@needs_netns
def test_a_run_across_three_hosts_reports_and_leaves_nothing(tmp_path: Path) -> None:
    proc = loadtest("--test-hosts", "2", "--duration", "3s", *short_run(tmp_path))
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, out + err
    (run_dir,) = tmp_path.glob("locust-asyncio-*")
    result = json.loads((run_dir / "run.json").read_text())
    assert result["requests"] > 0 and result["failures"] == 0
    assert result["scenario"]["test_hosts"] == 2
    assert f"--host http://{netns.SUBNET}.2:" in " ".join(result["command"])
    assert "2 workers connected" in (run_dir / "locust.log").read_text()
    assert result["loader_processes"] == 3  # the master's CPU check covers both workers
    assert (run_dir / "worker1.log").exists() and (run_dir / "worker2.log").exists()
    assert "Locust, asyncio" in out
    assert leftovers(tag_of(proc)) == []


@needs_netns
def test_a_server_that_fails_to_start_leaves_nothing(tmp_path: Path) -> None:
    proc = loadtest("--test-hosts", "1", "--server-arg=--no-such-flag", *short_run(tmp_path))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, out + err
    (line,) = err.strip().splitlines()
    assert "the server did not start" in line and "--no-such-flag" in line
    assert leftovers(tag_of(proc)) == []


@needs_netns
def test_sigint_mid_run_stops_everything_and_leaves_nothing(tmp_path: Path) -> None:
    proc = loadtest(
        "--test-hosts", "1", "--processes", "2", "--duration", "60s", *short_run(tmp_path)
    )

    def spawned() -> bool:
        log = next(tmp_path.glob("locust-*/locust.log"), None)
        return (
            log is not None
            and "Sending spawn jobs of 4 users at 4.00 spawn rate to 2" in log.read_text()
        )

    wait_until(spawned, timeout=90, what="the master sending users to the 2 processes of its host")
    tree = psutil.Process(proc.pid).children(recursive=True)
    assert len(leftovers(tag_of(proc))) == 4  # server, master, worker1 and the switch
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 130 and "interrupted" in out
    assert leftovers(tag_of(proc)) == []
    assert not [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
