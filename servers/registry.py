"""The model registry: name -> driver module, imported only when that model is chosen.

Importing lazily matters: gevent (and anything it patches) must never be loaded
into another model's process.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType


def _fork_missing() -> str | None:
    if hasattr(os, "fork"):
        return None
    return "it needs os.fork(), which this platform lacks; use 'multiprocess' (the portable route) instead"


def _interpreters_missing() -> str | None:
    if sys.version_info >= (3, 13) and importlib.util.find_spec("_interpreters") is not None:
        return None
    return f"needs Python 3.13 or newer: per-interpreter GIL (this is {sys.version.split()[0]})"


@dataclass(frozen=True)
class ModelInfo:
    """A registered model: its name, driver module, one-line summary, and what it needs.

    ``missing``, when set, says in one line why the model cannot run on this
    machine (None when it can); it is asked only when the model is chosen.
    """

    name: str
    module: str
    summary: str
    missing: Callable[[], str | None] | None = None

    def unavailable(self) -> str | None:
        """Why this model cannot run here (one line), or None."""
        return self.missing() if self.missing is not None else None


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            "fork", "servers.models.forking", "a process per connection (os.fork)", _fork_missing
        ),
        ModelInfo("thread", "servers.models.threaded", "a thread per connection"),
        ModelInfo("gevent", "servers.models.greenlets", "a greenlet per connection"),
        ModelInfo("asyncio", "servers.models.asyncio_loop", "one event loop (stdlib asyncio)"),
        ModelInfo("uvloop", "servers.models.uvloop_loop", "one event loop (uvloop)"),
        ModelInfo(
            "multiprocess",
            "servers.models.multiprocess",
            "one uvloop loop per core, supervised workers",
        ),
        ModelInfo(
            "reactor", "servers.models.reactor", "one event loop written by hand (selectors)"
        ),
        ModelInfo("generators", "servers.models.generators", "generator coroutines on that loop"),
        ModelInfo(
            "interpreters",
            "servers.models.interpreters",
            "one process, a reactor loop per subinterpreter, each with its own GIL (3.13+)",
            _interpreters_missing,
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
    """The registered models that can run here (what a tool runs when told "all")."""
    return [name for name, info in MODELS.items() if info.unavailable() is None]


def unavailable(name: str) -> str | None:
    """Why the registered model ``name`` cannot run here (one line), or None."""
    return MODELS[name].unavailable()


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
