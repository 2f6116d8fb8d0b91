"""``multiprocess``: N worker processes, each an event loop, sharing one listening socket.

Processes plus coroutines: every core runs its own uvloop loop (the asyncio
driver, unchanged), and the kernel spreads new connections over the workers
accepting on the one shared socket. Built on :mod:`multiprocessing` with the
``spawn`` start method (the portable route: it works where there is no
``fork()``); ``IOMODELS_START_METHOD`` may choose ``fork`` or ``forkserver``.

The supervisor (this process) starts the workers, respawns any that dies (a
crash or a SIGKILL takes only that worker's connections), forwards shutdown,
and gives up with a clear error if a worker cannot even start.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from servers.protocol.config import ServerConfig
from servers.stats import SharedStats

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS_PER_WORKER = 20_000
START_TIMEOUT = 30.0


class WorkerStartError(RuntimeError):
    """A worker died before it could accept: respawning would only loop."""


def worker_main(
    listener: socket.socket, config: ServerConfig, array: Any, index: int, root_pid: int, ready: Any
) -> None:
    """Entry point of one worker process (importable, so it works with ``spawn``)."""
    from servers.models._aio import run_server
    from servers.models._fds import fd_cap

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:  # no uvloop on this platform: the stdlib loop does the same job
        loop_factory = None
    workers = len(array) // SharedStats.slots_needed(1)
    stats = SharedStats("multiprocess", array, index, workers=workers, root_pid=root_pid)
    per_worker = -(-config.max_connections // workers) if config.max_connections else 0
    run_server(
        listener,
        config,
        ready.set,
        stats,
        fd_cap(per_worker or DEFAULT_MAX_CONNECTIONS_PER_WORKER),
        loop_factory,
        balance=stats.least_loaded,
    )


class Supervisor:
    def __init__(self, listener: socket.socket, config: ServerConfig) -> None:
        self.listener = listener
        self.config = config
        self.ctx: Any = multiprocessing.get_context(
            os.environ.get("IOMODELS_START_METHOD", "spawn")
        )
        self.count = config.workers or os.cpu_count() or 1
        self.array = self.ctx.RawArray("q", SharedStats.slots_needed(self.count))
        self.stats = SharedStats("multiprocess", self.array, 0, workers=self.count)
        self.workers: list[Any] = [None] * self.count
        self.signals = 0

    def start(self, index: int) -> None:
        """Start worker ``index`` and wait until it accepts; raise if it dies first."""
        ready = self.ctx.Event()
        proc = self.ctx.Process(
            target=worker_main,
            args=(self.listener, self.config, self.array, index, os.getpid(), ready),
            name=f"iomodels-worker-{index}",
        )
        proc.start()
        self.workers[index] = proc
        deadline = time.monotonic() + START_TIMEOUT
        while not ready.wait(0.05):
            if not proc.is_alive() or time.monotonic() > deadline:
                raise WorkerStartError(
                    f"worker {index} (pid {proc.pid}) did not start (exit code {proc.exitcode}); "
                    "see its error above"
                )

    def supervise(self) -> None:
        """Respawn dead workers until a stop signal."""
        while self.signals == 0:
            sentinels = [w.sentinel for w in self.workers]
            multiprocessing.connection.wait(sentinels, timeout=0.2)
            for index, proc in enumerate(self.workers):
                if self.signals or proc.is_alive():
                    continue
                proc.join()
                log.warning(
                    "worker %d (pid %d) died (%s); respawning",
                    index,
                    proc.pid,
                    _describe(proc.exitcode),
                )
                SharedStats("multiprocess", self.array, index).reset_open()
                started = time.monotonic()
                self.start(index)
                log.warning(
                    "worker %d respawned as pid %d in %.3f s",
                    index,
                    self.workers[index].pid,
                    time.monotonic() - started,
                )

    def stop(self) -> None:
        """Forward the shutdown; workers drain within the grace period, then are killed."""
        self.listener.close()  # with the workers' copies closed too, new connections are refused
        for proc in self.workers:
            if proc is not None and proc.is_alive():
                proc.terminate()  # SIGTERM: the worker drains
        deadline = time.monotonic() + self.config.graceful_timeout + 1.0
        for proc in self.workers:
            if proc is None:
                continue
            while proc.is_alive() and time.monotonic() < deadline and self.signals < 2:
                proc.join(0.05)
            if proc.is_alive():
                proc.kill()
            proc.join()

    def on_signal(self, signum: int, frame: object) -> None:
        self.signals += 1


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    supervisor = Supervisor(listener, config)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, supervisor.on_signal)
    try:
        for index in range(supervisor.count):
            supervisor.start(index)
        on_ready()
        supervisor.supervise()
    except WorkerStartError as exc:
        print(f"iomodels: error: {exc}", file=sys.stderr)
        supervisor.stop()
        raise SystemExit(1) from None
    supervisor.stop()


def _describe(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"
