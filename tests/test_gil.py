"""Never a silent GIL: the ready line, ``/stats`` and the one-line notice of what turned it on."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from servers.gil import free_threaded_build, gil_state
from servers.launcher import ServerProcess
from tests.wire import Wire, get

FREE_THREADED = pytest.mark.skipif(
    not free_threaded_build(),
    reason="needs a free-threaded Python: make test-model MODEL=thread PYTHON=$(make -s python-ft)",
)


def stats(port: int) -> dict:
    with Wire(port) as wire:
        return json.loads(wire.request(get("/stats")).body)


@pytest.mark.parametrize("model", ["thread", "threadloops"])
def test_the_ready_line_and_stats_say_where_the_gil_stands(model: str) -> None:
    with ServerProcess(model) as server:
        assert server.gil == gil_state()
        assert stats(server.port)["gil_enabled"] is (server.gil != "off")
    assert gil_state() == ("off" if free_threaded_build() else "none")


@FREE_THREADED
def test_a_gil_forced_back_on_is_reported() -> None:
    with ServerProcess("thread", env={"PYTHON_GIL": "1"}) as server:
        assert server.gil == "on"
        assert stats(server.port)["gil_enabled"] is True


@FREE_THREADED
def test_the_module_that_turned_the_gil_on_is_named_once() -> None:
    """CPython's warning (one per module) becomes one line naming the first module."""
    warn = (
        'warnings.warn("The global interpreter lock (GIL) has been enabled to load module '
        "'{}', which has not declared that it can run safely without the GIL.\", RuntimeWarning)"
    )
    code = "; ".join(
        [
            "import warnings",
            "from servers.gil import watch_gil, enabled_by",
            "watch_gil()",
            warn.format("first_ext"),
            warn.format("second_ext"),
            "print(enabled_by())",
        ]
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "first_ext"
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "'first_ext'" in lines[0] and "GIL is back ON" in lines[0]


@FREE_THREADED
def test_models_shows_for_each_model_whether_the_gil_stays_off() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "iomodels", "models"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    for model in ("thread", "threadpool", "threadloops"):
        assert lines[model].endswith("[runs, GIL off]"), lines[model]
    assert "[not here:" in lines["gevent"]


@pytest.mark.skipif(
    importlib.util.find_spec("gevent") is not None, reason="gevent and Locust are installed here"
)
@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["loadtest", "--model", "thread"], "locust is not installed"),
        (["crawl", "--crawler", "gevent", "--model", "thread"], "gevent is not installed"),
    ],
)
def test_a_tool_without_its_gil_extra_says_so_in_one_line(command: list[str], says: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "iomodels", *command], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and says in out.stderr
