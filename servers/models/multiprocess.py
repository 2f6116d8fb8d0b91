"""``multiprocess``: N worker processes, each an event loop, sharing one listening socket.

Processes plus coroutines: every core runs its own uvloop loop (the asyncio
driver, unchanged), and the kernel spreads new connections over the workers
accepting on the one shared socket. Built on :mod:`multiprocessing` with the
``spawn`` start method (the portable route: it works where there is no
``fork()``); ``IOMODELS_START_METHOD`` may choose ``fork`` or ``forkserver``.

The supervisor (this process: :class:`~servers.supervisor.Supervisor`, shared
with prefork and interpreters) starts the workers, respawns any that dies (a
crash or a SIGKILL takes only that worker's connections), kills and replaces
one whose loop stops beating (``--worker-timeout``), drains them on shutdown,
and gives up with a clear error if a worker cannot even start.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.resource_tracker
import os
import socket
from collections.abc import Callable
from typing import Any

from servers.lifecycle import Lifecycle
from servers.protocol.config import ServerConfig
from servers.stats import SharedStats
from servers.supervisor import Supervisor
from servers.workers import READY, Heartbeats, SpawnedWorker

DEFAULT_MAX_CONNECTIONS_PER_WORKER = 20_000


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    context: Any = multiprocessing.get_context(os.environ.get("IOMODELS_START_METHOD", "spawn"))
    count = config.workers or os.cpu_count() or 1
    array = context.RawArray("q", SharedStats.slots_needed(count))
    beats_array = context.RawArray("q", count)
    supervisor = Supervisor(
        listener,
        config,
        model="multiprocess",
        stats=array,
        heartbeats=Heartbeats(beats_array),
        count=count,
    )
    args = (listener, config, array, beats_array, os.getpid())
    supervisor.serve(
        lambda index: SpawnedWorker(index, context, worker_main, args), on_ready, _stop_tracker
    )


def worker_main(
    listener: socket.socket,
    config: ServerConfig,
    array: Any,
    beats_array: Any,
    root_pid: int,
    index: int,
    ready: Any,
) -> None:
    """Entry point of one worker process (importable, so it works with ``spawn``)."""
    from servers.models._aio import run_server
    from servers.models._fds import fd_cap

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # no uvloop on this platform: the stdlib loop does the same job
        loop_factory = None
    Lifecycle.reports = False  # the supervisor says when the server stopped
    workers = len(array) // SharedStats.slots_needed(1)
    stats = SharedStats("multiprocess", array, index, workers=workers, root_pid=root_pid)
    per_worker = -(-config.max_connections // workers) if config.max_connections else 0
    beats = Heartbeats(beats_array)

    def beat() -> None:
        beats.beat(index)
        asyncio.get_running_loop().call_later(config.worker_timeout / 4, beat)

    def on_ready() -> None:  # called on the worker's loop once it accepts
        beat()
        ready.send_bytes(READY)
        ready.close()

    run_server(
        listener,
        config,
        on_ready,
        stats,
        fd_cap(per_worker or DEFAULT_MAX_CONNECTIONS_PER_WORKER),
        loop_factory,
        balance=stats.least_loaded,
    )


def _stop_tracker() -> None:
    """Stop and reap the resource tracker, which would otherwise outlive us as a zombie."""
    tracker = multiprocessing.resource_tracker._resource_tracker
    if getattr(tracker, "_pid", None) is not None:
        tracker._stop()  # type: ignore[attr-defined]
