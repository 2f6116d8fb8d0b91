"""System calls per request (clients/bench/syscalls.py): parsing, the table, and a short real count."""

from __future__ import annotations

import shutil
import subprocess
import sys

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
