"""What a new user trips over on the command line: one line, exit 2, nothing left behind.

Every entry point that names models (or crawlers) accepts them the same ways
and refuses an unknown one in one line listing the choices; a server that does
not start is reported by its own error, not a traceback; bind errors name the
flag to change; a crawl that fetched nothing says so in its exit status.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from clients.crawl import crawler_names
from iomodels.cli import COMMANDS, command_parser
from servers.registry import model_names, runnable_model_names
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]
CHOICES = ", ".join(model_names())
UNKNOWN_MODEL = f"unknown model 'bogus'; choose from: {CHOICES}"


def iomodels(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "iomodels", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """Exit 2, no traceback, and the last line of stderr holds every needle; returns that line."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    for needle in needles:
        assert needle in line, proc.stderr
    return line


# -- unknown names, at every entry point ------------------------------------------------------
ENTRY_POINTS = [
    ("serve", "--model", "bogus"),
    ("loadtest", "--model", "bogus"),
    ("locust", "--model", "bogus"),
    ("compare", "--models", "bogus"),
    ("compare", "--models", "fork thread bogus"),
    ("compare", "--models", "fork,bogus"),
    ("bench", "--models", "bogus"),
    ("bench", "--models", "fork,bogus"),
    ("soak", "--models", "bogus"),
    ("soak", "--models", "fork bogus"),
    ("crawl", "--model", "bogus"),
    ("crawl-bench", "--model", "bogus"),
]


@pytest.mark.parametrize("argv", ENTRY_POINTS, ids=" ".join)
def test_an_unknown_model_is_one_line_naming_the_choices(
    argv: tuple[str, ...], tmp_path: Path
) -> None:
    proc = iomodels(*argv, cwd=tmp_path)
    line = assert_one_line_error(proc, UNKNOWN_MODEL)
    assert line.startswith(f"iomodels {argv[0]}: error: argument {argv[1]}: ")
    assert list(tmp_path.iterdir()) == []  # no empty results/locust-bogus-*/ left behind


def test_an_unknown_crawler_is_named_too() -> None:
    proc = iomodels("crawl-bench", "--crawlers", "thread,telepathy")
    assert_one_line_error(
        proc, f"unknown crawler 'telepathy'; choose from: {', '.join(crawler_names())}"
    )


@pytest.mark.parametrize(
    ("target", "variable"),
    [
        ("loadtest", "MODEL=bogus"),
        ("locust", "MODEL=bogus"),
        ("crawl", "MODEL=bogus"),
        ("soak", "MODELS=bogus"),
        ("compare", "MODELS=fork bogus"),
        ("bench", "MODELS=fork,bogus"),
    ],
)
def test_make_targets_refuse_an_unknown_model_in_one_line(target: str, variable: str) -> None:
    proc = subprocess.run(
        ["make", "-s", target, variable], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr
    assert UNKNOWN_MODEL in proc.stderr
    assert not list(ROOT.glob("results/locust-bogus-*"))


# -- several names: one type, every spelling --------------------------------------------------
@pytest.mark.parametrize(
    "spelling",
    [
        ["fork thread"],
        ["fork,thread"],
        ["fork", "thread"],
        ["fork, thread"],
        ["fork", "thread,fork"],
    ],
)
@pytest.mark.parametrize("command", ["compare", "bench", "soak"])
def test_every_spelling_of_several_models_means_the_same(command: str, spelling: list[str]) -> None:
    args = command_parser(command).parse_args(["--models", *spelling])
    assert args.models == ["fork", "thread"]


@pytest.mark.parametrize("command", ["compare", "soak"])
def test_no_models_named_means_every_model_that_runs_here(command: str) -> None:
    assert command_parser(command).parse_args([]).models == runnable_model_names()


def test_crawl_bench_takes_crawlers_and_levels_in_either_spelling() -> None:
    args = command_parser("crawl-bench").parse_args(
        ["--crawlers", "thread asyncio", "--concurrency", "1,10", "100"]
    )
    assert (args.crawlers, args.concurrency) == (["thread", "asyncio"], [1, 10, 100])


# -- a server that does not start --------------------------------------------------------------
def test_a_server_that_cannot_start_is_reported_by_its_own_error(tmp_path: Path) -> None:
    proc = iomodels(
        "loadtest",
        "--server-arg=--host=192.0.2.1",
        "--duration",
        "1s",
        "--users",
        "2",
        "--results-dir",
        str(tmp_path / "results"),
    )
    line = assert_one_line_error(
        proc, "the server did not start", "cannot assign requested address"
    )
    assert "--host" in line and "--port" not in line
    assert not (tmp_path / "results").exists()


# -- bind errors name the flag to change -------------------------------------------------------
@pytest.mark.parametrize(
    ("host", "cause"),
    [("192.0.2.1", "cannot assign requested address"), ("nosuchhost.invalid", "unknown host")],
)
def test_a_bad_host_is_blamed_not_the_port(host: str, cause: str) -> None:
    line = assert_one_line_error(iomodels("serve", "--host", host, "--port", "0"), cause)
    assert "--host" in line and "--port" not in line


def test_a_port_in_use_is_blamed_on_the_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = assert_one_line_error(
            iomodels("serve", "--port", str(port)), f"port {port} is already in use"
        )
    assert "--port" in line and "--host" not in line


def test_a_busy_web_port_is_one_line_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = iomodels("locust", "--web-port", str(port), "--host", "http://127.0.0.1:9")
        line = assert_one_line_error(proc, f"port {port} is already in use", "--web-port")
    assert line.startswith("iomodels locust: error: cannot listen on 127.0.0.1:")
    assert "Locust web UI" not in proc.stdout and "target:" not in proc.stdout


@pytest.mark.parametrize("command", ["loadtest", "compare"])
def test_a_run_no_longer_than_its_ramp_is_refused(command: str, tmp_path: Path) -> None:
    proc = iomodels(
        command, "--duration", "5s", "--users", "100", "--spawn-rate", "20", cwd=tmp_path
    )
    assert_one_line_error(proc, "the ramp-up (100 users at 20/s: 5 s) fills the whole 5s run")
    assert list(tmp_path.iterdir()) == []  # refused before any server or result directory


@pytest.mark.parametrize("command", ["loadtest", "locust"])
def test_a_host_without_a_scheme_is_refused(command: str, tmp_path: Path) -> None:
    proc = iomodels(command, "--host", "127.0.0.1:8000", cwd=tmp_path)
    assert_one_line_error(proc, "'127.0.0.1:8000' has no scheme: use http://127.0.0.1:8000")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", ["locust", "loadtest", "compare"])
def test_the_locust_process_knob_has_one_name(command: str, tmp_path: Path) -> None:
    assert command_parser(command).parse_args(["--processes", "2"]).processes == 2
    proc = iomodels(command, "--workers", "2", cwd=tmp_path)
    assert_one_line_error(proc, "--workers is now --processes")
    assert list(tmp_path.iterdir()) == []


def test_max_connections_zero_is_refused() -> None:
    assert_one_line_error(iomodels("serve", "--max-connections", "0"), "at least 1")


def test_a_bad_run_time_is_refused_before_any_server_starts(tmp_path: Path) -> None:
    proc = iomodels("loadtest", "--duration", "5x", cwd=tmp_path)
    assert_one_line_error(proc, "'5x' is not a run time")
    assert list(tmp_path.iterdir()) == []


# -- exit statuses a script can trust ----------------------------------------------------------
def test_a_crawl_that_fetched_nothing_exits_3_as_its_help_says() -> None:
    proc = iomodels("crawl", "--url", "http://127.0.0.1:1/site/", "--retries", "0", "--json")
    assert proc.returncode == 3, proc.stderr
    assert "nothing fetched from http://127.0.0.1:1/site/" in proc.stderr
    help_text = iomodels("crawl", "--help").stdout
    assert re.search(r"^\s+3\s+nothing fetched", help_text, re.M), help_text


# -- the bench lock ----------------------------------------------------------------------------
def test_a_load_command_waits_for_the_bench_lock_and_says_so(tmp_path: Path) -> None:
    lock = tmp_path / "bench.lock"
    env = {**os.environ, "IOMODELS_BENCH_LOCK": str(lock)}
    with open(lock, "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        held.write("pid 1 (iomodels bench --quick)\n")
        held.flush()
        proc = subprocess.Popen(
            [sys.executable, "-m", "iomodels", "soak", "--models", "asyncio", "--duration", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        try:
            assert proc.stderr is not None and proc.stdout is not None
            waiting = wait_until(proc.stderr.readline, timeout=30)
            assert f"waiting for {lock}" in waiting
            assert "iomodels bench --quick" in waiting  # who holds it
            assert proc.poll() is None  # still waiting
            fcntl.flock(held, fcntl.LOCK_UN)
            assert "starting" in wait_until(proc.stderr.readline, timeout=30)
            assert wait_until(proc.stdout.readline, timeout=30).startswith("soak: ")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)


# -- the README agrees with make -----------------------------------------------------------------
def test_the_readme_make_targets_block_is_make_help() -> None:
    shown = subprocess.run(
        ["make", "-s", "help"], capture_output=True, text=True, check=True, cwd=ROOT, timeout=60
    ).stdout
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```\n(usage: make .*?)```", readme, re.S)
    assert block is not None, "no make-targets block in README.md"
    assert block.group(1) == shown


# -- every --help line states its default -------------------------------------------------------
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_help_entry_states_its_default(command: str) -> None:
    parser = command_parser(command)
    formatter = parser._get_formatter()
    for action in parser._actions:
        if not action.option_strings or action.help == argparse.SUPPRESS:
            continue
        if isinstance(action, argparse._HelpAction):
            continue
        shown = formatter._expand_help(action) if action.help is not None else ""
        assert "default" in shown, f"iomodels {command} {action.option_strings[0]}: {shown!r}"
