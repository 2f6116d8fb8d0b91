"""Shared fixtures: every registered model as a real subprocess on 127.0.0.1, port 0."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from servers.launcher import ServerProcess
from servers.registry import model_names
from tests.helpers import skip_unavailable

MODELS = model_names()


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
