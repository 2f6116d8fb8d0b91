"""What the bench can start: the six models and the reference servers, all through ``ServerProcess``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from servers.launcher import ServerProcess
from servers.registry import model_names, unavailable


@dataclass(frozen=True)
class Target:
    """A server to measure.

    Attributes:
        module: ``python -m`` module for references (``None`` for a model).
        args: its extra arguments.
        protocols: wire protocols it speaks.
        unavailable: why it cannot run here (nginx not installed, a model this Python
            cannot run), or None when it can.
        wrapper: the root process only supervises (nginx): leave it out of CPU figures.
    """

    name: str
    summary: str
    module: str | None = None
    args: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ("http", "echo")
    unavailable: Callable[[], str | None] = field(default=lambda: None)
    wrapper: bool = False

    @property
    def reference(self) -> bool:
        return self.module is not None


def _nginx_missing() -> str | None:
    from clients.references.nginx import available

    return None if available() else "not installed (sudo apt-get install nginx-light)"


def _model(name: str) -> Target:
    return Target(name, f"model {name}", unavailable=lambda: unavailable(name))


MODELS: dict[str, Target] = {name: _model(name) for name in model_names()}

REFERENCES: dict[str, Target] = {
    t.name: t
    for t in (
        Target("ref-bare", "uvloop Protocol answering without parsing (the Python ceiling)",
               "clients.references.bare"),
        Target("ref-echo-asyncio", "minimal asyncio Protocol echo server (stdlib loop)",
               "clients.references.bare", ("--loop", "asyncio"), ("echo",)),
        Target("ref-echo-gevent", "minimal gevent StreamServer echo", "clients.references.echo_kinds",
               ("--kind", "gevent"), ("echo",)),
        Target("ref-echo-thread", "minimal blocking recv/sendall, a thread per connection",
               "clients.references.echo_kinds", ("--kind", "thread"), ("echo",)),
        Target("ref-echo-fork", "minimal blocking recv/sendall, a fork per connection",
               "clients.references.echo_kinds", ("--kind", "fork"), ("echo",)),
        Target("ref-aiohttp", "aiohttp.web, same routes, on uvloop", "clients.references.aiohttp_app",
               protocols=("http",)),
        Target("ref-aiohttp-stdlib", "aiohttp.web, same routes, on the stdlib loop",
               "clients.references.aiohttp_app", ("--loop", "asyncio"), ("http",)),
        Target("ref-nginx", "nginx, one worker (the native ceiling)", "clients.references.nginx",
               protocols=("http",), unavailable=_nginx_missing, wrapper=True),
    )
}  # fmt: skip

TARGETS: dict[str, Target] = {**MODELS, **REFERENCES}


class TargetProcess(ServerProcess):
    """A :class:`ServerProcess` that also starts reference servers."""

    def __init__(
        self, target: Target, protocol: str, args: Sequence[str] = (), *, cpus: Sequence[int]
    ) -> None:
        super().__init__(target.name, protocol, args, cpus=cpus)
        self.target = target

    def command(self) -> list[str]:
        if self.target.module is None:
            return super().command()
        return [
            sys.executable,
            "-m",
            self.target.module,
            "--port",
            "0",
            "--host",
            self.host,
            "--protocol",
            self.protocol,
            "--name",
            self.target.name,
            *self.target.args,
            *self.args,
        ]
