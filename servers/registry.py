"""The model registry: name -> driver module, imported only when that model is chosen.

Importing lazily matters: gevent (and anything it patches) must never be loaded
into another model's process. Each entry also says what the model's
architecture promises (its pool, what a connection beyond its bound meets,
what a crash takes down); the cross-model tests read those promises here, so a
new model gets its expectations by being registered, not by editing tests.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType

#: The ``serve`` flags that size a model's pool or cap: each applies only to the models
#: whose :attr:`ModelInfo.flags` list it (``iomodels serve`` refuses it for the others).
SIZING_FLAGS = ("--workers", "--threads", "--max-connections")
_CAP = frozenset({"--max-connections"})


def _fork_missing() -> str | None:
    if hasattr(os, "fork"):
        return None
    return "it needs os.fork(), which this platform lacks; use 'multiprocess' (the portable route) instead"


def _io_uring_missing() -> str | None:
    from servers.models._ring import unavailable_reason

    return unavailable_reason()


def _interpreters_missing() -> str | None:
    if sys.version_info >= (3, 13) and importlib.util.find_spec("_interpreters") is not None:
        return None
    return f"needs Python 3.13 or newer: per-interpreter GIL (this is {sys.version.split()[0]})"


def _gevent_missing() -> str | None:
    if importlib.util.find_spec("gevent") is not None:
        return None
    return (
        "gevent is not installed (it does not build on a free-threaded Python; "
        "elsewhere `make venv` installs it with the gil extra)"
    )


@dataclass(frozen=True)
class ModelInfo:
    """A registered model, and what its architecture promises (the tests check each promise).

    Attributes:
        missing: says in one line why the model cannot run on this machine (None
            when it can); asked only when the model is chosen.
        flags: which of :data:`SIZING_FLAGS` the model obeys.
        pool: the flag sizing a fixed pool whose members serve one connection at a
            time (prefork's processes, threadpool's threads); None when every
            connection is served as it comes.
        pool_default: the pool's size when ``pool`` is not given (None: one
            member per server CPU, or no pool).
        excess: what a connection beyond the model's bound meets: ``"503"`` (HTTP
            gets 503, echo a close, beyond ``--max-connections``) or ``"backlog"``
            (nobody accepts it until a member of the pool is free).
        crash_kills: what ``GET /crash`` takes down: the ``"connection"`` (its own
            process), a ``"worker"`` (replaced) or the whole ``"process"``.
        event_loop: one thread serves many connections as events arrive, so it
            keeps reading a connection while that connection's request waits.
        upstream: how ``GET /db`` holds its upstream connections: ``"thread"``
            (one per thread of control: per connection, child, worker or pool
            thread; a query never waits for one) or ``"pool"`` (at most
            ``--upstream-pool`` per loop or hub, shared; a query waits for one up
            to half the upstream timeout, then 503). hiredis parses the replies,
            except in a subinterpreter or the free-threaded build, where it cannot
            load (or turns the GIL back on): a pure-Python reader does it there.
        hung_worker: what its supervisor does with a worker silent past
            ``--worker-timeout``: ``"replaced"`` (killed, respawned) or ``"exit"``
            (a thread cannot be killed: the server exits 1); None when unsupervised.
    """

    name: str
    module: str
    summary: str
    missing: Callable[[], str | None] | None = None
    flags: frozenset[str] = _CAP
    pool: str | None = None
    pool_default: int | None = None
    excess: str = "503"
    crash_kills: str = "process"
    event_loop: bool = False
    upstream: str = "thread"
    hung_worker: str | None = None

    def unavailable(self) -> str | None:
        """Why this model cannot run here (one line), or None."""
        return self.missing() if self.missing is not None else None


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            "fork",
            "servers.models.forking",
            "a process per connection (os.fork)",
            _fork_missing,
            crash_kills="connection",
        ),
        ModelInfo("thread", "servers.models.threaded", "a thread per connection"),
        ModelInfo(
            "gevent",
            "servers.models.greenlets",
            "a greenlet per connection",
            _gevent_missing,
            upstream="pool",
        ),
        ModelInfo(
            "asyncio",
            "servers.models.asyncio_loop",
            "one event loop (stdlib asyncio)",
            event_loop=True,
            upstream="pool",
        ),
        ModelInfo(
            "uvloop",
            "servers.models.uvloop_loop",
            "one event loop (uvloop)",
            event_loop=True,
            upstream="pool",
        ),
        ModelInfo(
            "multiprocess",
            "servers.models.multiprocess",
            "one uvloop loop per core, supervised workers",
            flags=_CAP | {"--workers"},
            crash_kills="worker",
            event_loop=True,
            upstream="pool",
            hung_worker="replaced",
        ),
        ModelInfo(
            "prefork",
            "servers.models.prefork",
            "N processes forked once, each serving one connection at a time",
            _fork_missing,
            flags=frozenset({"--workers"}),
            pool="--workers",
            excess="backlog",
            crash_kills="worker",
            hung_worker="replaced",
        ),
        ModelInfo(
            "threadpool",
            "servers.models.threadpool",
            "a fixed pool of N threads, the excess waiting in a bounded queue",
            flags=_CAP | {"--threads"},
            pool="--threads",
            pool_default=32,
        ),
        ModelInfo(
            "threadloops",
            "servers.models.threadloops",
            "one process, an event loop per thread, one thread per core (all cores without the GIL)",
            flags=_CAP | {"--workers"},
            event_loop=True,
            upstream="pool",
        ),
        ModelInfo(
            "reactor",
            "servers.models.reactor",
            "one event loop written by hand (selectors)",
            event_loop=True,
            upstream="pool",
        ),
        ModelInfo(
            "generators",
            "servers.models.generators",
            "generator coroutines on that loop",
            event_loop=True,
            upstream="pool",
        ),
        ModelInfo(
            "interpreters",
            "servers.models.interpreters",
            "one process, a reactor loop per subinterpreter, each with its own GIL (3.13+)",
            _interpreters_missing,
            flags=_CAP | {"--workers"},
            event_loop=True,
            upstream="pool",
            hung_worker="exit",
        ),
        ModelInfo(
            "iouring",
            "servers.models.iouring",
            "one thread, one io_uring ring, driven by completions (Linux)",
            _io_uring_missing,
            event_loop=True,
            upstream="pool",
        ),
    )
}


class UnknownModel(ValueError):
    """The name is not a registered model (the message lists the models)."""


class ModelUnavailable(UnknownModel):
    """The model is registered but cannot run on this machine (the message says why)."""


def model_names() -> list[str]:
    return list(MODELS)


def runnable_model_names() -> list[str]:
    """The registered models that can run on this machine."""
    return [name for name, info in MODELS.items() if info.unavailable() is None]


def unavailable(name: str) -> str | None:
    """Why the registered model ``name`` cannot run here (one line), or None."""
    return MODELS[name].unavailable()


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
    """Import and return the driver module of ``name``.

    Raises:
        UnknownModel: ``name`` is not registered.
        ModelUnavailable: it is, but cannot run here (the message says why).
    """
    info = MODELS.get(name)
    if info is None:
        raise UnknownModel(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    reason = info.unavailable()
    if reason is not None:
        raise ModelUnavailable(f"model {name!r} cannot run here: {reason}")
    return importlib.import_module(info.module)
