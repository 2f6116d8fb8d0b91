"""What the bench can start: the models and the reference servers, all through ``ServerProcess``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from servers.launcher import ServerProcess
from servers.registry import MODELS as REGISTRY
from servers.registry import unavailable

#: threadpool's threads when ``--threads`` is not given (gunicorn gthread is given as many)
POOL_THREADS = REGISTRY["threadpool"].pool_default or 0


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
        sized: takes ``--workers N``, given one per server CPU (see :func:`sizing_args`).
        pool: connections served at once, a fixed pool's size (None: as they come);
            0 for a pool of one process per server CPU.
        python: the interpreter that runs it (empty: this one), so that one model can be
            measured under two builds side by side (a free-threaded one, say).
        model: the registered model it serves, when its name is not that model's.
    """

    name: str
    summary: str
    module: str | None = None
    args: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ("http", "echo")
    unavailable: Callable[[], str | None] = field(default=lambda: None)
    wrapper: bool = False
    sized: bool = False
    pool: int | None = None
    python: str = ""
    model: str = ""

    @property
    def reference(self) -> bool:
        return self.module is not None

    def serves_at_once(self, server_cpus: int) -> int | None:
        """Connections served at once with ``server_cpus`` CPUs (None: no fixed pool)."""
        return server_cpus if self.pool == 0 else self.pool


def _nginx_missing() -> str | None:
    from clients.references.nginx import available

    return None if available() else "not installed (sudo apt-get install nginx-light)"


def _missing_module(module: str) -> Callable[[], str | None]:
    def missing() -> str | None:
        if importlib.util.find_spec(module) is not None:
            return None
        return f"not installed ({REFERENCES_EXTRA}; make bench does it)"

    return missing


#: How to install the production servers (``make bench`` does).
REFERENCES_EXTRA = "pip install -e '.[references]'"


def _model(name: str) -> Target:
    info = REGISTRY[name]
    sized = "--workers" in info.flags
    pool = None if info.pool is None else (info.pool_default or 0)
    return Target(
        name, f"model {name}", unavailable=lambda: unavailable(name), sized=sized, pool=pool
    )


MODELS: dict[str, Target] = {name: _model(name) for name in REGISTRY}

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
        Target("ref-gunicorn-sync", "gunicorn sync workers, one per server CPU (the production "
               "prefork; no keep-alive)", "clients.references.gunicorn_ref",
               ("--worker-class", "sync"), ("http",), _missing_module("gunicorn"), sized=True, pool=0),
        Target("ref-gunicorn-gthread", f"gunicorn gthread, one worker of {POOL_THREADS} threads "
               "(the production thread pool)", "clients.references.gunicorn_ref",
               ("--worker-class", "gthread", "--threads", str(POOL_THREADS)), ("http",),
               _missing_module("gunicorn"), pool=POOL_THREADS),
        Target("ref-gunicorn-gevent", "gunicorn gevent worker, one process",
               "clients.references.gunicorn_ref", ("--worker-class", "gevent"), ("http",),
               _missing_module("gunicorn")),
        Target("ref-uvicorn", "uvicorn, httptools on uvloop, one process",
               "clients.references.uvicorn_ref", protocols=("http",),
               unavailable=_missing_module("uvicorn")),
    )
}  # fmt: skip

#: The models measured again on a free-threaded build, as ``<model>-ft``, and on the same
#: source built with the GIL, as ``<model>-gil`` (docs/free-threading.md).
FREE_THREADED_MODELS = ("thread", "threadpool", "threadloops", "multiprocess", "reactor")


def free_threaded_python() -> str:
    """The python of the repository's free-threaded virtualenv (``.venv-3.13.5t``), or ``""``."""
    root = Path(__file__).resolve().parents[2]
    found = sorted(root.glob(".venv-*t/bin/python"))
    return str(found[-1]) if found else ""


def gil_twin_python() -> str:
    """The python of the virtualenv of the same version built with the GIL (``.venv-3.13.5``), or ``""``."""
    free = free_threaded_python()
    if not free:
        return ""
    twin = Path(free).parents[1].name.removesuffix("t")
    found = Path(free).parents[2] / twin / "bin" / "python"
    return str(found) if found.exists() else ""


def _on_build(name: str, free_threaded: bool) -> Target:
    python = free_threaded_python() if free_threaded else gil_twin_python()
    suffix, build = (
        ("ft", "free-threaded Python") if free_threaded else ("gil", "the same source with the GIL")
    )
    make = "make -s python-ft" if free_threaded else "make -s python-gil"

    def missing() -> str | None:
        if not python:
            return f"no virtualenv of {build} here: make venv PYTHON=$({make})"
        return None

    return replace(
        MODELS[name],
        name=f"{name}-{suffix}",
        summary=f"model {name} on {build}",
        unavailable=missing,
        python=python,
        model=name,
    )


FREE_THREADED: dict[str, Target] = {
    f"{name}-{suffix}": _on_build(name, suffix == "ft")
    for name in FREE_THREADED_MODELS
    for suffix in ("gil", "ft")
}

TARGETS: dict[str, Target] = {**MODELS, **REFERENCES, **FREE_THREADED}


def sizing_args(target: Target, server_cpus: Sequence[int]) -> list[str]:
    """``--workers N``, one per server CPU, for the targets sized by processes (else nothing).

    The thread pools need no flag: threadpool and ref-gunicorn-gthread share the
    registry's ``pool_default`` (:data:`POOL_THREADS`).
    """
    return ["--workers", str(len(server_cpus))] if target.sized else []


class TargetProcess(ServerProcess):
    """A :class:`ServerProcess` that also starts reference servers."""

    def __init__(
        self, target: Target, protocol: str, args: Sequence[str] = (), *, cpus: Sequence[int]
    ) -> None:
        super().__init__(target.model or target.name, protocol, args, cpus=cpus)
        self.target = target

    def command(self) -> list[str]:
        python = self.target.python or sys.executable
        if self.target.module is None:
            command = super().command()
            command[command.index(sys.executable)] = python
            return command
        return [
            python,
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
