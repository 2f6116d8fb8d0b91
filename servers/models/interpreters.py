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

The main interpreter supervises (:class:`~servers.supervisor.Supervisor`,
shared with prefork and multiprocess): it alone receives signals, and forwards
each stop to every worker's inbox pipe; a worker whose loop fails (an exception
escapes it) is replaced by a fresh interpreter, and only its connections are
lost; a worker that cannot even start stops the server with a clear error. A
worker whose loop stops beating (``--worker-timeout``) cannot be killed (it is
a thread): the server says so and exits 1. A crash in C (``GET /crash``'s
SIGSEGV) takes the whole process: the interpreters are isolated from each
other's objects, not from each other's faults.
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import socket
import sys
from collections.abc import Callable

import _interpreters  # the Python 3.13 module; the registry keeps older Pythons out

from servers.models._interpreter_worker import SLOT_BYTES, shared_bytes
from servers.protocol.config import ServerConfig
from servers.supervisor import Supervisor
from servers.workers import Heartbeats, ThreadWorker

#: What each worker interpreter runs: ``module:function`` (see ``_interpreter_worker.run``).
WORKER = "servers.models._interpreter_worker:run"

#: Executed in each new interpreter: the main interpreter's import path, then the worker.
_BOOT = """\
import importlib, sys
sys.path[:] = sys_path
module, _, function = worker.partition(":")
getattr(importlib.import_module(module), function)(*worker_args)
"""


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    count = config.workers or len(os.sched_getaffinity(0)) or 1
    shared_fd = os.memfd_create("iomodels-interpreters-shared")
    os.ftruncate(shared_fd, shared_bytes(count))
    shared = mmap.mmap(shared_fd, shared_bytes(count))
    counters = memoryview(shared)[: SLOT_BYTES * count].cast("q")
    beats = Heartbeats(memoryview(shared)[SLOT_BYTES * count :])
    supervisor = Supervisor(
        listener, config, model="interpreters", stats=counters, heartbeats=beats, count=count
    )
    args = (
        *(listener.fileno(), shared_fd, count),
        *(pickle.dumps(config), logging.getLogger().getEffectiveLevel()),
    )

    def body(index: int, inbox_fd: int, ready_fd: int) -> str | None:
        """Run worker ``index`` in a new isolated interpreter; its failure's text, or None."""
        interp = _interpreters.create("isolated")  # own GIL, no single-phase-init modules
        shared_names = {
            "sys_path": tuple(sys.path),
            "worker": WORKER,
            "worker_args": (inbox_fd, ready_fd, index, *args),
        }
        try:
            failed = _interpreters.exec(interp, _BOOT, shared_names)
            return None if failed is None else failed.errdisplay
        finally:
            _interpreters.destroy(interp)  # closing its sockets

    def close() -> None:
        counters.release()
        beats.release()
        shared.close()
        os.close(shared_fd)

    supervisor.serve(lambda index: ThreadWorker(index, body), on_ready, close)
