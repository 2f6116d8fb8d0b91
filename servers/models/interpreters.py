"""``interpreters``: one process, N subinterpreters each with its own GIL, each a reactor loop.

The article's "n threads on n cores use one core" held for 25 years of
CPython. Since Python 3.12 (PEP 684) a subinterpreter created with the
"isolated" configuration has a GIL of its own, and 3.13 lets Python code
create one (``_interpreters``; ``concurrent.interpreters`` in 3.14, PEP 734):
threads running in different interpreters then run on different cores at
once, inside one process.

Each worker is a thread of this process that enters its own interpreter and
runs the hand-made ``reactor`` loop there (:mod:`._interpreter_worker`: pure
Python, so it loads where gevent and uvloop cannot), accepting on a copy of
the one listening socket; the kernel spreads new connections over the
workers, as in the multiprocess model. Interpreters share no objects: what
they share goes through the process's descriptors (the listener, a pipe per
worker, a memfd of counters).

The main interpreter supervises (:class:`Supervisor`): it alone receives
signals, and forwards each stop to every worker's inbox pipe; a worker whose
loop fails (an exception escapes it) is replaced by a fresh interpreter, and
only its connections are lost; a worker that cannot even start stops the
server with a clear error. A crash in C (``GET /crash``'s SIGSEGV) takes the
whole process: the interpreters are isolated from each other's objects, not
from each other's faults.
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

import _interpreters  # the Python 3.13 module; the registry keeps older Pythons out

from servers.lifecycle import Lifecycle
from servers.models._interpreter_worker import SLOT_BYTES
from servers.protocol.config import ServerConfig
from servers.stats import SharedStats

log = logging.getLogger(__name__)

#: What each worker interpreter runs: ``module:function`` (see ``_interpreter_worker.run``).
WORKER = "servers.models._interpreter_worker:run"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0

#: Executed in each new interpreter: the main interpreter's import path, then the worker.
_BOOT = """\
import importlib, sys
sys.path[:] = sys_path
module, _, function = worker.partition(":")
getattr(importlib.import_module(module), function)(*worker_args)
"""


class WorkerStartError(RuntimeError):
    """A worker failed before it could accept: starting it again would only loop."""


class Worker:
    """Worker ``index``: an isolated interpreter, the thread that runs it, its two pipes.

    Args:
        index: the worker's slot among the counters.
        args: what :data:`WORKER` is called with after the worker's ends of the two pipes.
        on_exit: called (in the worker's thread) once the interpreter returns.
    """

    def __init__(self, index: int, args: tuple[object, ...], on_exit: Callable[[], None]) -> None:
        self.index = index
        self.inbox_r, self.inbox_w = os.pipe()  # stop signals, one byte each
        self.ready_r, self.ready_w = os.pipe()  # one byte once the worker accepts
        self.failure: str | None = None
        self.returned = threading.Event()  # set before on_exit(): the thread is about to end
        self.interp = _interpreters.create("isolated")  # own GIL, no single-phase-init modules
        shared = {
            "sys_path": tuple(sys.path),
            "worker": WORKER,
            "worker_args": (self.inbox_r, self.ready_w, *args),
        }
        self.thread = threading.Thread(
            target=self._run, args=(shared, on_exit), name=f"iomodels-interpreter-{index}"
        )
        self.thread.start()

    def _run(self, shared: dict[str, object], on_exit: Callable[[], None]) -> None:
        try:
            failed = _interpreters.exec(self.interp, _BOOT, shared)
            if failed is not None:  # an exception escaped: its traceback, as text
                self.failure = failed.errdisplay
        except Exception as exc:  # the interpreter could not run the code at all
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            self.returned.set()
            on_exit()

    @property
    def running(self) -> bool:
        return not self.returned.is_set()

    def tell(self, signum: int) -> None:
        """Forward a stop signal to the worker's loop."""
        try:
            os.write(self.inbox_w, bytes([signum]))
        except OSError:  # its pipe is full of stops already
            pass

    def close(self) -> None:
        """After its thread ended: destroy the interpreter (closing its sockets) and the pipes."""
        self.thread.join()
        _interpreters.destroy(self.interp)
        for fd in (self.inbox_r, self.inbox_w, self.ready_r, self.ready_w):
            os.close(fd)


class Supervisor:
    """The main interpreter of the interpreters model: what it promises.

    * **Start**: ``count`` workers, each accepting before the next starts;
      :meth:`start` raises :class:`WorkerStartError` if one fails (or hangs for
      ``START_TIMEOUT``) first, so a worker that cannot start is never retried
      in a loop.
    * **Supervise**: a worker whose interpreter returns while the server runs
      (an exception escaped its loop) is logged with its traceback, its
      interpreter destroyed (its connections close with it), its counters of
      open connections reset, and a fresh interpreter started in its place.
      The supervisor sleeps until a worker ends or a signal arrives.
    * **Stop**: on SIGINT/SIGTERM, the shared drain: the listener closed here,
      each worker told to drain its own connections within the grace period,
      a second signal forwarded to end theirs; then every interpreter is
      destroyed, and nothing is left running.
    """

    def __init__(self, listener: socket.socket, config: ServerConfig) -> None:
        self.listener = listener
        self.config = config
        self.count = config.workers or len(os.sched_getaffinity(0)) or 1
        self.counters_fd = os.memfd_create("iomodels-interpreters-stats")
        os.ftruncate(self.counters_fd, SLOT_BYTES * self.count)
        self.counters = mmap.mmap(self.counters_fd, SLOT_BYTES * self.count)
        self.workers: list[Worker | None] = [None] * self.count
        # the workers' grace period, plus a second for them to return
        self.lifecycle = Lifecycle(config.graceful_timeout + 1.0)
        self.wakeup = self.lifecycle.wake_by_pipe()

    def start(self, index: int) -> None:
        """Start worker ``index`` and wait until it accepts; raise if it fails first."""
        args = (
            *(self.listener.fileno(), self.counters_fd, index, self.count),
            *(pickle.dumps(self.config), logging.getLogger().getEffectiveLevel()),
        )
        worker = Worker(index, args, self.wakeup.wake)
        self.workers[index] = worker
        deadline = time.monotonic() + START_TIMEOUT
        while worker.running and (left := deadline - time.monotonic()) > 0:
            # woken by its ready byte, its return (on_exit) or a signal (recorded: looked at later)
            ready, _, _ = select.select([worker.ready_r, self.wakeup.fileno()], [], [], left)
            if worker.ready_r in ready:
                return
            self.wakeup.clear()
        self.stop_accepting()
        raise WorkerStartError(
            f"worker {index} did not start ({_last_line(worker.failure) or 'it hung'}); "
            "see its error above"
        )

    def supervise(self) -> None:
        """Replace failed workers until a stop signal."""
        while not self.lifecycle.stopping:
            self.wakeup.wait(None)
            for index, worker in enumerate(self.workers):
                if self.lifecycle.stopping or worker is None or worker.running:
                    continue
                log.error("worker %d failed; restarting it\n%s", index, worker.failure)
                worker.close()
                counters = memoryview(self.counters).cast("q")
                SharedStats("interpreters", counters, index).reset_open()
                counters.release()
                started = time.monotonic()
                self.start(index)
                log.warning("worker %d restarted in %.3f s", index, time.monotonic() - started)

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.listener.close()  # with the workers' copies closed too, new connections are refused

    def stop_connections(self) -> None:
        for worker in self.workers:
            if worker is not None:
                worker.tell(signal.SIGTERM)

    def open_connections(self) -> int:
        return sum(1 for worker in self.workers if worker is not None and worker.running)

    def abort_connections(self) -> None:
        for worker in self.workers:
            if worker is not None and worker.running:
                worker.tell(
                    signal.SIGTERM
                )  # the second stop: the worker closes what it still holds
        for worker in self.workers:
            if worker is not None:
                if not worker.returned.wait(STOP_TIMEOUT):
                    # a thread cannot be killed, and the process cannot end while it runs
                    log.error("worker %d does not stop; exiting without it", worker.index)
                    os._exit(1)
                worker.close()
        self.counters.close()
        os.close(self.counters_fd)


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    supervisor = Supervisor(listener, config)
    try:
        for index in range(supervisor.count):
            supervisor.start(index)
        on_ready()
        supervisor.supervise()
    except WorkerStartError as exc:
        for worker in supervisor.workers:
            if worker is not None and worker.failure is not None:
                print(worker.failure, file=sys.stderr)
        print(f"iomodels: error: {exc}", file=sys.stderr)
        supervisor.abort_connections()  # nothing to drain: stop whatever did start, at once
        raise SystemExit(1) from None
    for timeout in supervisor.lifecycle.drain(supervisor):
        supervisor.wakeup.wait(timeout)
    supervisor.wakeup.close()


def _last_line(text: str | None) -> str:
    return text.strip().splitlines()[-1] if text else ""
