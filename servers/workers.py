"""The workers a :class:`~servers.supervisor.Supervisor` runs: one lifecycle, three ways to start.

Whatever a worker is, the supervisor sees the same thing (:class:`Worker`):
it is started, says once that it accepts (a byte on its ready pipe), beats in
shared memory while its loop comes round (:class:`Heartbeats`), and ends,
which makes its *sentinel* readable (a descriptor the supervisor polls, as
``multiprocessing`` does for its processes). Then it is reaped and its end
described in words.

* :class:`ForkedWorker` (prefork): ``os.fork()``, the child runs a function.
* :class:`SpawnedWorker` (multiprocess): a :mod:`multiprocessing` process
  (``spawn`` by default), the portable route.
* :class:`ThreadWorker` (interpreters): a thread of this process, running a
  subinterpreter; it cannot be killed, only asked to stop.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any, NoReturn

from servers.lifecycle import describe_exit
from servers.models._closing import poll_readable

#: The longest a new worker may take to say it is ready.
START_TIMEOUT = 30.0
READY = b"r"


class WorkerStartError(RuntimeError):
    """A worker died (or hung) before it could accept: starting it again would only loop.

    ``failure`` is the worker's own account (a thread's traceback), when it has one.
    """

    def __init__(self, message: str, failure: str | None = None) -> None:
        super().__init__(message)
        self.failure = failure


class Heartbeats:
    """When each worker last said it is alive: one int64 (monotonic ns) per worker, shared.

    ``CLOCK_MONOTONIC`` is one clock for the whole machine, so a beat written
    by a worker process is read correctly by its supervisor.
    """

    def __init__(self, buffer: Any) -> None:
        self._slots = memoryview(buffer).cast("B").cast("q")

    @staticmethod
    def bytes_needed(workers: int) -> int:
        return 8 * workers

    def beat(self, index: int) -> None:
        self._slots[index] = time.monotonic_ns()

    def silent_for(self, index: int) -> float:
        """Seconds since worker ``index`` last beat."""
        return (time.monotonic_ns() - self._slots[index]) / 1e9

    def release(self) -> None:
        """Let go of the shared memory (before the mapping under it closes)."""
        self._slots.release()


class Worker:
    """One supervised worker: its index (its slot in shared memory), start, stop, end.

    A subclass starts the worker in :meth:`start`, setting ``ready_fd`` (one
    byte once it accepts) and ``sentinel`` (readable once it ended).
    """

    #: A worker that stops beating can be killed and replaced (a thread cannot).
    killable = True

    def __init__(self, index: int) -> None:
        self.index = index
        self.ready_fd = -1
        self.sentinel = -1
        #: Why it failed, as text, when the supervisor should print it (a thread's traceback).
        self.failure: str | None = None

    @property
    def ident(self) -> str:
        """What the system knows it as (``pid 123``), or "" for a thread."""
        return ""

    @property
    def name(self) -> str:
        return f"worker {self.index} ({self.ident})" if self.ident else f"worker {self.index}"

    def start(self) -> None:
        raise NotImplementedError

    def wait_ready(self, timeout: float = START_TIMEOUT) -> bool:
        """True once the worker says it accepts; False if it ended or hung first."""
        readable = poll_readable([self.ready_fd, self.sentinel], timeout)
        if self.ready_fd in readable:
            return os.read(self.ready_fd, 1) == READY
        return False

    def ended(self) -> bool:
        return self.sentinel in poll_readable([self.sentinel], 0)

    def wait_ended(self, timeout: float) -> bool:
        return self.sentinel in poll_readable([self.sentinel], timeout)

    def stop(self) -> None:
        """Ask it to drain its connections and end."""
        raise NotImplementedError

    def kill(self) -> None:
        """End it now (a second stop, for a worker that cannot be killed)."""
        raise NotImplementedError

    def reap(self) -> str:
        """After it ended: collect it and its descriptors; how it ended, in words."""
        raise NotImplementedError


class ForkedWorker(Worker):
    """A child forked from the supervisor, running ``body(index, ready_fd)`` (which never returns)."""

    def __init__(self, index: int, body: Callable[[int, int], NoReturn]) -> None:
        super().__init__(index)
        self.body = body
        self.pid = 0

    @property
    def ident(self) -> str:
        return f"pid {self.pid}"

    def start(self) -> None:
        ready_r, ready_w = os.pipe()
        ended_r, ended_w = os.pipe()  # the child alone holds the write end: EOF once it ends
        try:
            self.pid = os.fork()
        except OSError as exc:
            for fd in (ready_r, ready_w, ended_r, ended_w):
                os.close(fd)
            raise WorkerStartError(
                f"cannot fork worker {self.index}: {exc.strerror or exc}"
            ) from None
        if self.pid == 0:
            os.close(ready_r)
            os.close(ended_r)
            self.body(self.index, ready_w)
        os.close(ready_w)
        os.close(ended_w)
        self.ready_fd, self.sentinel = ready_r, ended_r

    def stop(self) -> None:
        _signal(self.pid, signal.SIGTERM)

    def kill(self) -> None:
        _signal(self.pid, signal.SIGKILL)

    def send(self, signum: int) -> None:
        _signal(self.pid, signum)

    def reap(self) -> str:
        _, status = os.waitpid(self.pid, 0)
        os.close(self.ready_fd)
        os.close(self.sentinel)
        return describe_exit(os.waitstatus_to_exitcode(status))


class SpawnedWorker(Worker):
    """A :mod:`multiprocessing` process running ``target(*args, index, ready)``.

    ``ready`` is the write end of a one-way pipe: the worker calls
    ``ready.send_bytes(READY)`` once it accepts.
    """

    def __init__(self, index: int, context: Any, target: Callable[..., None], args: tuple) -> None:
        super().__init__(index)
        self.context = context
        self.target = target
        self.args = args
        self.process: Any = None
        self._ready: Any = None

    @property
    def ident(self) -> str:
        return f"pid {self.process.pid}"

    def start(self) -> None:
        self._ready, ready_w = self.context.Pipe(duplex=False)
        self.process = self.context.Process(
            target=self.target,
            args=(*self.args, self.index, ready_w),
            name=f"iomodels-worker-{self.index}",
        )
        self.process.start()
        ready_w.close()
        self.ready_fd, self.sentinel = self._ready.fileno(), self.process.sentinel

    def wait_ready(self, timeout: float = START_TIMEOUT) -> bool:
        readable = poll_readable([self.ready_fd, self.sentinel], timeout)
        if self.ready_fd not in readable:
            return False
        try:
            return self._ready.recv_bytes() == READY
        except EOFError:  # it died before saying so
            return False

    def stop(self) -> None:
        self.process.terminate()

    def kill(self) -> None:
        self.process.kill()

    def reap(self) -> str:
        self.process.join()
        self._ready.close()
        return describe_exit(self.process.exitcode)


class ThreadWorker(Worker):
    """A thread of this process running ``body(index, inbox_fd, ready_fd)``.

    ``body`` returns the failure's text (a traceback) or None. A thread cannot
    be killed: stops go to its inbox pipe, one byte (the signal's number) each.
    """

    killable = False

    def __init__(self, index: int, body: Callable[[int, int, int], str | None]) -> None:
        super().__init__(index)
        self.body = body
        self.thread: threading.Thread | None = None
        self._fds: tuple[int, ...] = ()
        self._inbox = -1

    def start(self) -> None:
        inbox_r, self._inbox = os.pipe()
        self.ready_fd, ready_w = os.pipe()
        self.sentinel, ended_w = os.pipe()
        self._fds = (inbox_r, self._inbox, self.ready_fd, ready_w, self.sentinel)
        self.thread = threading.Thread(
            target=self._run,
            args=(inbox_r, ready_w, ended_w),
            name=f"iomodels-{self.name.replace(' ', '-')}",
        )
        self.thread.start()

    def _run(self, inbox_fd: int, ready_fd: int, ended_fd: int) -> None:
        try:
            self.failure = self.body(self.index, inbox_fd, ready_fd)
        except Exception as exc:
            self.failure = f"{type(exc).__name__}: {exc}"
        finally:
            os.close(ended_fd)

    def stop(self) -> None:
        try:
            os.write(self._inbox, bytes([signal.SIGTERM]))
        except OSError:  # its pipe is full of stops already
            pass

    kill = stop  # the second stop: the worker closes what it still holds

    def reap(self) -> str:
        if self.thread is not None:
            self.thread.join()
        for fd in self._fds:
            os.close(fd)
        return "failed" if self.failure else "returned"


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
