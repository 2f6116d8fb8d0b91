"""The model registry: name -> driver module, imported only when that model is chosen.

Importing lazily matters: gevent (and anything it patches) must never be loaded
into another model's process.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType

#: The ``serve`` flags that size a model's pool or cap: each applies only to the models
#: whose :attr:`ModelInfo.flags` list it (``iomodels serve`` refuses it for the others).
SIZING_FLAGS = ("--workers", "--threads", "--max-connections")
_CAP = frozenset({"--max-connections"})


@dataclass(frozen=True)
class ModelInfo:
    """A registered model, and what its architecture promises (the tests check each promise).

    Attributes:
        flags: which of :data:`SIZING_FLAGS` the model obeys.
        pool: the flag sizing a fixed pool whose members serve one connection at a
            time (prefork's processes, threadpool's threads); None when every
            connection is served as it comes.
        excess: what a connection beyond the model's bound meets: ``"503"`` (HTTP
            gets 503, echo a close, beyond ``--max-connections``) or ``"backlog"``
            (nobody accepts it until a member of the pool is free).
        crash_kills: what ``GET /crash`` takes down: the ``"connection"`` (its own
            process), a ``"worker"`` (replaced) or the whole ``"process"``.
        event_loop: one thread serves many connections as events arrive, so it
            keeps reading a connection while that connection's request waits.
    """

    name: str
    module: str
    summary: str
    needs_fork: bool = False
    flags: frozenset[str] = _CAP
    pool: str | None = None
    excess: str = "503"
    crash_kills: str = "process"
    event_loop: bool = False


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            "fork",
            "servers.models.forking",
            "a process per connection (os.fork)",
            needs_fork=True,
            crash_kills="connection",
        ),
        ModelInfo("thread", "servers.models.threaded", "a thread per connection"),
        ModelInfo("gevent", "servers.models.greenlets", "a greenlet per connection"),
        ModelInfo(
            "asyncio",
            "servers.models.asyncio_loop",
            "one event loop (stdlib asyncio)",
            event_loop=True,
        ),
        ModelInfo(
            "uvloop", "servers.models.uvloop_loop", "one event loop (uvloop)", event_loop=True
        ),
        ModelInfo(
            "multiprocess",
            "servers.models.multiprocess",
            "one uvloop loop per core, supervised workers",
            flags=_CAP | {"--workers"},
            crash_kills="worker",
            event_loop=True,
        ),
        ModelInfo(
            "prefork",
            "servers.models.prefork",
            "N processes forked once, each serving one connection at a time",
            needs_fork=True,
            flags=frozenset({"--workers"}),
            pool="--workers",
            excess="backlog",
            crash_kills="worker",
        ),
        ModelInfo(
            "threadpool",
            "servers.models.threadpool",
            "a fixed pool of N threads, the excess waiting in a bounded queue",
            flags=_CAP | {"--threads"},
            pool="--threads",
        ),
        ModelInfo(
            "reactor",
            "servers.models.reactor",
            "one event loop written by hand (selectors)",
            event_loop=True,
        ),
        ModelInfo(
            "generators",
            "servers.models.generators",
            "generator coroutines on that loop",
            event_loop=True,
        ),
    )
}


class UnknownModel(ValueError):
    """The name is not a registered model (the message lists the models)."""


def model_names() -> list[str]:
    return list(MODELS)


def models_taking(flag: str) -> list[str]:
    """The models that obey ``flag`` (one of :data:`SIZING_FLAGS`)."""
    return [name for name, info in MODELS.items() if flag in info.flags]


def ignored_flag(name: str, given: Iterable[str]) -> str | None:
    """Why model ``name`` cannot take one of the ``given`` sizing flags (None: it takes them all)."""
    info = MODELS.get(name)
    if info is None:
        return None
    for flag in given:
        if flag in SIZING_FLAGS and flag not in info.flags:
            return (
                f"{flag} does not apply to model {name!r}; "
                f"it applies to: {', '.join(models_taking(flag))}"
            )
    return None


def load_model(name: str) -> ModuleType:
    """Import and return the driver module of ``name``."""
    info = MODELS.get(name)
    if info is None:
        raise UnknownModel(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    if info.needs_fork and not hasattr(os, "fork"):
        raise UnknownModel(
            f"model {name!r} needs os.fork(), which this platform lacks; "
            "use 'multiprocess' (the portable route) instead"
        )
    return importlib.import_module(info.module)
