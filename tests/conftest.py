"""Shared fixtures: every registered model as a real subprocess on 127.0.0.1, port 0, and the
event loops every async test runs on."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Iterator, Mapping

import pytest
import uvloop

from servers.launcher import ServerProcess
from servers.registry import model_names
from tests.helpers import skip_unavailable

MODELS = model_names()

#: The event loops an async test runs on, each in turn (see the hook below).
LOOPS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": asyncio.new_event_loop,
    "uvloop": uvloop.new_event_loop,
}


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """pytest-asyncio runs every async test once per loop here: the stdlib one and uvloop.

    A test that supports only some picks them with ``@pytest.mark.asyncio(loop_factories=[...])``.
    """
    return LOOPS


def pytest_configure(config: pytest.Config) -> None:
    """Let the commands the tests start hear Ctrl-C, even when the suite itself cannot.

    A shell starts a background job (``make test &``, ``nohup``) with SIGINT ignored, and an
    ignored signal stays ignored across ``exec``: every server and crawler the tests start
    would then ignore the SIGINT a test sends it. A handler, unlike ``SIG_IGN``, is reset to
    the default at ``exec``, so the children start as from a terminal.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True, scope="session")
def private_bench_lock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The commands the tests run take a bench lock of their own, never the machine's.

    A test never waits for a benchmark running beside it, nor holds one up.
    """
    previous = os.environ.get("IOMODELS_BENCH_LOCK")
    os.environ["IOMODELS_BENCH_LOCK"] = str(tmp_path_factory.mktemp("lock") / "bench.lock")
    yield
    if previous is None:
        os.environ.pop("IOMODELS_BENCH_LOCK", None)
    else:
        os.environ["IOMODELS_BENCH_LOCK"] = previous


@pytest.fixture
def start_server() -> Iterator[Callable[..., ServerProcess]]:
    """Factory: ``start_server(model, protocol="http", args=[...])`` -> a started server.

    Every server started through it is stopped (and its process tree killed) at teardown.
    """
    started: list[ServerProcess] = []

    def start(
        model: str, protocol: str = "http", args: list[str] | None = None, **kw: object
    ) -> ServerProcess:
        server = ServerProcess(model, protocol, args or [], **kw)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop(timeout=5)


@pytest.fixture(params=MODELS)
def model(request: pytest.FixtureRequest) -> str:
    """Each registered model in turn: a test using it runs once per model.

    A model that cannot run on this machine is skipped, with the registry's reason.
    """
    skip_unavailable(request.param)
    return request.param


@pytest.fixture(scope="module", params=MODELS)
def model_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """Each model's HTTP server (a 50-page site), started once for a whole module.

    Shared by the module's tests, so a test using it must leave it as it found it.
    """
    skip_unavailable(request.param)
    with ServerProcess(request.param, args=["--site-pages", "50"]) as server:
        yield server


@pytest.fixture(scope="module", params=MODELS)
def model_echo_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """Each model's echo server, started once for a whole module."""
    skip_unavailable(request.param)
    with ServerProcess(request.param, "echo") as server:
        yield server
