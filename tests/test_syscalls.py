"""System calls per request (clients/bench/syscalls.py): parsing, the table, and a short real count."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from clients.bench.syscalls import SyscallCount, count_syscalls, parse_summary, to_markdown
from tests.helpers import skip_unavailable

SUMMARY = """\
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 52.10    0.010000          10      1000           sendto
 40.00    0.008000           8      1000        12 recvfrom
  7.90    0.001000           6       170           epoll_wait
------ ----------- ----------- --------- --------- ----------------
100.00    0.019000           8      2170        12 total
"""

needs_strace = pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")


def test_the_summary_is_read_per_system_call() -> None:
    assert parse_summary(SUMMARY) == {"sendto": 1000, "recvfrom": 1000, "epoll_wait": 170}


def test_the_table_shows_calls_per_request() -> None:
    count = SyscallCount("asyncio", "echo-1k", 1000, parse_summary(SUMMARY))
    assert count.total == 2170 and count.per_request == pytest.approx(2.17)
    table = to_markdown([count])
    assert (
        "| asyncio | echo-1k | 1,000 | 2,170 | 2.17 | sendto 1.00, recvfrom 1.00, epoll_wait 0.17 |"
        in table
    )


@needs_strace
def test_a_readiness_loop_reads_and_writes_per_message_a_ring_does_not() -> None:
    """asyncio makes a receive and a send per echoed message; iouring makes neither, and fewer calls."""
    skip_unavailable("iouring")
    requests = 300
    loop = count_syscalls("asyncio", "echo-1k", requests)
    ring = count_syscalls("iouring", "echo-1k", requests)
    assert loop.calls.get("recvfrom", 0) >= requests and loop.calls.get("sendto", 0) >= requests
    assert ring.calls.get("io_uring_enter", 0) > 0
    assert not {"recvfrom", "sendto", "read", "write", "epoll_wait"} & ring.calls.keys()
    assert ring.total < loop.total


def test_an_unknown_model_is_one_line_and_exit_2() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "clients.bench.syscalls", "--models", "coroutines"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert "unknown model(s) coroutines" in out.stderr and "Traceback" not in out.stderr


def test_the_bench_judges_and_shows_the_counts(tmp_path: Path) -> None:
    from clients.bench import experiments
    from clients.bench.claims import judge
    from clients.bench.measures import Results
    from clients.bench.records import Experiments, SyscallFigures
    from clients.bench.render import syscalls_table

    def counted(echo: float, hello: float) -> SyscallFigures:
        return SyscallFigures(2000, {"echo-1k": echo, "hello": hello}, {"echo-1k": ["read 1.00"]})

    found = Experiments(syscalls={"uvloop": counted(2.1, 2.0), "iouring": counted(0.6, 0.2)})
    experiments.write(str(tmp_path), "syscalls", {m: asdict(f) for m, f in found.syscalls.items()})
    restored = experiments.load(tmp_path)  # syscalls.json and back
    assert restored == found
    checked = {v.claim: v for v in judge(Results({}, [], restored))}
    echo = checked["syscalls: iouring system calls per echoed message vs uvloop's"]
    assert echo.holds is True and "0.29x" in echo.measured
    assert checked["syscalls: iouring system calls per hello request vs uvloop's"].holds is None
    header, rows = syscalls_table(restored.syscalls)
    assert rows[1][:3] == ["iouring", "0.60", "0.20"] and rows[0][3] == "read 1.00"
    found.syscalls["iouring"] = SyscallFigures(2000, {"echo-1k": 1.5, "hello": 1.0})
    assert not next(v for v in judge(Results({}, [], found)) if v.claim == echo.claim).holds


def test_the_syscalls_charts_show_the_counts_not_an_empty_throughput(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from clients.bench.charts import draw_all
    from clients.bench.records import Experiments, SyscallFigures

    found = Experiments(
        syscalls={
            m: SyscallFigures(2000, {"echo-1k": e, "hello": h})
            for m, e, h in (("uvloop", 2.1, 2.0), ("iouring", 0.2, 0.04))
        }
    )
    drawn = draw_all([], tmp_path, found)
    names = sorted(p.name for p in drawn["syscalls"])
    assert names == ["syscalls-echo-1k.png", "syscalls-hello.png"]
    assert not (tmp_path / "throughput-syscalls.png").exists()
