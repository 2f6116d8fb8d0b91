"""``multiprocess``: N worker processes, each an event loop, sharing one listening socket.

Processes plus coroutines: every core runs its own uvloop loop (the asyncio
driver, unchanged), and the kernel spreads new connections over the workers
accepting on the one shared socket. Built on :mod:`multiprocessing` with the
``spawn`` start method (the portable route: it works where there is no
``fork()``); ``IOMODELS_START_METHOD`` may choose ``fork`` or ``forkserver``.

The supervisor (this process, :class:`Supervisor`) starts the workers,
respawns any that dies (a crash or a SIGKILL takes only that worker's
connections), drains them on shutdown, and gives up with a clear error if a
worker cannot even start.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.resource_tracker
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from servers.lifecycle import Lifecycle, describe_exit
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
    """The supervisor process of the multiprocess model: what it promises.

    * **Start**: ``count`` workers, each accepting only once it is ready;
      :meth:`start` returns when the worker accepts, or raises
      :class:`WorkerStartError` if it dies (or hangs for ``START_TIMEOUT``)
      before that, so a worker that cannot start is never respawned in a loop.
    * **Supervise**: a worker that dies (a crash, a SIGKILL) is respawned at
      once; only its own connections were lost, and its open-connection count
      is reset. The supervisor sleeps until a worker dies or a signal arrives
      (``multiprocessing.connection.wait`` on the workers' sentinels and the
      wake-up pipe): no polling.
    * **Stop**: on SIGINT/SIGTERM, the shared drain: the listener closed here
      (the workers close their copies), every worker sent SIGTERM and given the
      grace period to drain its own connections, a second signal ending the
      wait; then any worker left is killed, every child (the
      ``multiprocessing`` resource tracker included) is reaped, and nothing is
      left behind.
    """

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
        # the workers' grace period, plus a second for them to exit
        self.lifecycle = Lifecycle(config.graceful_timeout + 1.0)
        self.wakeup = self.lifecycle.wake_by_pipe()

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
        while not self.lifecycle.stopping:
            self.wait(None)
            for index, proc in enumerate(self.workers):
                if self.lifecycle.stopping or proc.is_alive():
                    continue
                proc.join()
                log.warning(
                    "worker %d (pid %d) died (%s); respawning",
                    index,
                    proc.pid,
                    describe_exit(proc.exitcode),
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

    def wait(self, timeout: float | None) -> None:
        """Sleep until a worker ends, a signal arrives, or ``timeout`` passes."""
        sentinels = [w.sentinel for w in self.workers if w is not None]
        wake_fd = self.wakeup.fileno()
        if wake_fd in multiprocessing.connection.wait([*sentinels, wake_fd], timeout):
            self.wakeup.clear()

    def reap_helpers(self) -> None:
        """Stop and reap the resource tracker, which would otherwise outlive us as a zombie."""
        tracker = multiprocessing.resource_tracker._resource_tracker
        if getattr(tracker, "_pid", None) is not None:
            tracker._stop()  # type: ignore[attr-defined]

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.listener.close()  # with the workers' copies closed too, new connections are refused

    def stop_connections(self) -> None:
        for proc in self.workers:
            if proc is not None and proc.is_alive():
                proc.terminate()  # SIGTERM: the worker drains its own connections

    def open_connections(self) -> int:
        return sum(1 for proc in self.workers if proc is not None and proc.is_alive())

    def abort_connections(self) -> None:
        for proc in self.workers:
            if proc is not None:
                if proc.is_alive():
                    proc.kill()
                proc.join()


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    supervisor = Supervisor(listener, config)
    lifecycle = supervisor.lifecycle
    try:
        for index in range(supervisor.count):
            supervisor.start(index)
        on_ready()
        supervisor.supervise()
    except WorkerStartError as exc:
        print(f"iomodels: error: {exc}", file=sys.stderr)
        supervisor.stop_accepting()
        supervisor.abort_connections()  # nothing to drain: stop whatever did start, at once
        supervisor.reap_helpers()
        raise SystemExit(1) from None
    for timeout in lifecycle.drain(supervisor):
        supervisor.wait(timeout)
    supervisor.reap_helpers()
