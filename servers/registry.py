"""The model registry: name -> driver module, imported only when that model is chosen.

Importing lazily matters: gevent (and anything it patches) must never be loaded
into another model's process.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class ModelInfo:
    name: str
    module: str
    summary: str
    needs_fork: bool = False


MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo(
            "fork", "servers.models.forking", "a process per connection (os.fork)", needs_fork=True
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
    )
}


class UnknownModel(ValueError):
    """The name is not a registered model (the message lists the models)."""


def model_names() -> list[str]:
    return list(MODELS)


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
