"""One supervisor for every multi-worker model (prefork, multiprocess, interpreters).

After gunicorn's Arbiter: the signal handler only records the signal and wakes
the main loop (:class:`~servers.lifecycle.Lifecycle`); the loop does the work.
It sleeps in ``poll`` on the wake-up pipe and every worker's sentinel, and on
each wake-up it:

* **reaps** the workers that ended and says how each ended (the exit code, the
  signal, a thread's traceback), resetting its open-connection count (its
  connections died with it);
* **respawns** each after a backoff: 0.1 s, doubling to 5 s while it keeps
  dying young, back to 0.1 s once one has lived 5 s;
* **checks the heartbeats**: each worker beats in shared memory while its
  loop comes round (:class:`~servers.workers.Heartbeats`). One silent for
  longer than ``--worker-timeout`` is hung: a process is SIGKILLed, then reaped
  and replaced like any dead worker; a thread cannot be killed, so the server
  says which worker hung and exits 1 (the registry's ``hung_worker``).

A worker that cannot even start (it dies, or says nothing for
:data:`~servers.workers.START_TIMEOUT`) stops the server with one error line
and exit 1: a respawn loop would only hide it. On SIGINT/SIGTERM the shared
drain runs over the workers: each is asked to drain its own connections, and
those left at the end of the grace period are killed.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from servers.lifecycle import Lifecycle
from servers.models._closing import poll_readable
from servers.protocol.config import ServerConfig
from servers.stats import SharedStats
from servers.workers import Heartbeats, Worker, WorkerStartError

log = logging.getLogger(__name__)

#: How long a worker that did not stop when killed may keep the process (a thread's).
STOP_TIMEOUT = 5.0
#: Respawn delays: the first, and the longest (also how long a worker must live to reset it).
BACKOFF_MIN = 0.1
BACKOFF_MAX = 5.0


class Supervisor:
    """Starts, watches, respawns and drains ``count`` workers made by ``make_worker(index)``.

    Args:
        listener: the listening socket the workers share (closed here on stop).
        config: the server's configuration (``workers``, ``worker_timeout``, the grace period).
        model: the model's name, for its :class:`~servers.stats.SharedStats` slots.
        stats: the shared counters, one slot per worker.
        heartbeats: the workers' heartbeats, one per worker.
        count: how many workers.
        grace_margin: seconds the drain waits beyond the workers' own grace period.
    """

    def __init__(
        self,
        listener: socket.socket,
        config: ServerConfig,
        *,
        model: str,
        stats: Any,
        heartbeats: Heartbeats,
        count: int,
        grace_margin: float = 1.0,
    ) -> None:
        self.listener = listener
        self.model = model
        self.timeout = config.worker_timeout
        self.stats = stats
        self.heartbeats = heartbeats
        self.count = count
        self.lifecycle = Lifecycle(config.graceful_timeout + grace_margin)
        self.wakeup = self.lifecycle.wake_by_pipe()
        self.workers: dict[int, Worker] = {}
        self.make_worker: Callable[[int], Worker] = _unset
        self._due: dict[int, float] = {}  # index -> when it is respawned
        self._delay = dict.fromkeys(range(count), BACKOFF_MIN)
        self._born: dict[int, float] = {}

    def serve(
        self,
        make_worker: Callable[[int], Worker],
        on_ready: Callable[[], None],
        after: Callable[[], None] = lambda: None,
    ) -> None:
        """Run the workers until stopped and drained; ``after()`` cleans up once they are gone."""
        self.make_worker = make_worker
        try:
            for index in range(self.count):
                self.start(index)
            on_ready()
            self.supervise()
        except WorkerStartError as exc:
            if exc.failure:
                print(exc.failure, file=sys.stderr)
            print(f"iomodels: error: {exc}", file=sys.stderr)
            self.stop_accepting()
            self.abort_connections()  # nothing to drain: stop whatever did start, at once
            after()
            raise SystemExit(1) from None
        for timeout in self.lifecycle.drain(self, held=self.connections_open):
            self.wait(timeout)
            self.reap()
        after()
        self.wakeup.close()

    def start(self, index: int) -> Worker:
        """Start worker ``index`` and wait until it accepts; raise :class:`WorkerStartError` if not."""
        self.heartbeats.beat(index)  # a worker starting is not a hung one
        worker = self.make_worker(index)
        worker.start()
        self.workers[index] = worker
        self._born[index] = time.monotonic()
        if worker.wait_ready():
            return worker
        if worker.killable and not worker.ended():
            worker.kill()
        if not worker.ended() and not worker.killable:
            how = "it hung"
        else:
            del self.workers[index]
            how = _last_line(worker.failure) or worker.reap()
        raise WorkerStartError(
            f"{worker.name} did not start ({how}); see its error above", worker.failure
        )

    def supervise(self) -> None:
        """Reap, respawn and check the heartbeats until a stop signal."""
        while not self.lifecycle.stopping:
            self.wait(self._next_look())
            if self.lifecycle.stopping:
                break
            self.reap()
            self._respawn_due()
            self._check_heartbeats()

    def wait(self, timeout: float | None) -> None:
        """Sleep until a worker ends, a signal arrives, or ``timeout`` passes."""
        wake_fd = self.wakeup.fileno()
        sentinels = [worker.sentinel for worker in self.workers.values()]
        if wake_fd in poll_readable([wake_fd, *sentinels], timeout):
            self.wakeup.clear()

    def reap(self) -> None:
        """Collect every worker that ended; schedule its respawn unless the server is stopping."""
        for index, worker in list(self.workers.items()):
            if not worker.ended():
                continue
            del self.workers[index]
            how = worker.reap()
            SharedStats(self.model, self.stats, index).reset_open()
            if self.lifecycle.stopping:
                continue
            now = time.monotonic()
            if now - self._born[index] >= BACKOFF_MAX:
                self._delay[index] = BACKOFF_MIN
            delay = self._delay[index]
            self._delay[index] = min(delay * 2, BACKOFF_MAX)
            self._due[index] = now + delay
            if worker.failure:
                log.error("%s failed; respawning in %.1f s\n%s", worker.name, delay, worker.failure)
            else:
                log.warning("%s died (%s); respawning in %.1f s", worker.name, how, delay)

    def _respawn_due(self) -> None:
        now = time.monotonic()
        for index, due in list(self._due.items()):
            if due > now:
                continue
            del self._due[index]
            started = time.monotonic()
            worker = self.start(index)
            log.warning(
                "worker %d respawned as %s in %.3f s",
                index,
                worker.ident or "a new thread",
                time.monotonic() - started,
            )

    def _check_heartbeats(self) -> None:
        if not self.timeout:
            return
        for index, worker in self.workers.items():
            silent = self.heartbeats.silent_for(index)
            if silent <= self.timeout:
                continue
            what = f"{worker.name} silent for {silent:.1f} s (--worker-timeout {self.timeout:g})"
            if not worker.killable:
                print(f"iomodels: error: {what}; it cannot be killed: exiting", file=sys.stderr)
                sys.stderr.flush()
                os._exit(1)
            log.error("%s: killing it", what)
            worker.kill()  # reaped and respawned as any worker that died
            self.heartbeats.beat(index)  # once

    def _next_look(self) -> float | None:
        """How long the loop may sleep: until the next respawn or heartbeat check."""
        looks = [due - time.monotonic() for due in self._due.values()]
        if self.timeout:
            looks.append(self.timeout / 4)
        return max(0.0, min(looks)) if looks else None

    def connections_open(self) -> int:
        """The connections every worker holds (from the shared counters)."""
        return SharedStats(self.model, self.stats, 0, workers=self.count).counts()[0]

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.listener.close()  # with the workers' copies closed too, new connections are refused

    def stop_connections(self) -> None:
        self._due.clear()
        for worker in self.workers.values():
            worker.stop()  # each worker drains its own connections

    def open_connections(self) -> int:
        return sum(1 for worker in self.workers.values() if not worker.ended())

    def abort_connections(self) -> None:
        for worker in self.workers.values():
            if not worker.ended():
                worker.kill()
        for worker in self.workers.values():
            if not worker.wait_ended(STOP_TIMEOUT):
                # a thread cannot be killed, and the process cannot end while it runs
                log.error("%s does not stop; exiting without it", worker.name)
                os._exit(1)
            worker.reap()
        self.workers.clear()


def _unset(index: int) -> Worker:
    raise RuntimeError("Supervisor.serve() sets make_worker")


def _last_line(text: str | None) -> str:
    return text.strip().splitlines()[-1] if text else ""
