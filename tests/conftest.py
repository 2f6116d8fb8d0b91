"""Shared fixtures: every registered model as a real subprocess on 127.0.0.1, port 0."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from servers.launcher import ServerProcess
from servers.registry import model_names

MODELS = model_names()


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
    """Each registered model in turn: a test using it runs once per model."""
    return request.param
