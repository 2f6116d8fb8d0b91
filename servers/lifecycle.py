"""The life of a server process, the same for every model: serve, then drain.

A model's driver reads top to bottom as: listen, accept the model's way, serve
a connection the model's way, drain. What is common lives here:

* **Signals are recorded, never acted on in the handler** (gunicorn's arbiter:
  a signal queue and a wake-up pipe). :meth:`Lifecycle.record` notes the signal
  and calls the model's ``wake()``, which only interrupts the model's main loop
  (a byte in a :class:`WakeupPipe`, an event set); the loop then does the work.
  A handler that raises, as one used to, lands its exception in whatever code
  the main thread was running: around ``fork()``, in the middle of a send.
* **One drain policy** (:meth:`Lifecycle.drain`): stop accepting, ask every
  connection to stop (an idle one closes at once, a busy one after the response
  in flight), wait until all are closed, the grace period ends or a second
  signal arrives, then close what is left. The policy is a generator of waits:
  the model performs each wait its own way (``select``, ``gevent``, ``await``)
  and wakes early when a connection closes.

The signals are SIGINT and SIGTERM (the first starts the drain, the second
ends it); a model may ask to record others too (SIGCHLD for the models that
fork), which :meth:`Lifecycle.take` hands to its main loop.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

#: The first asks for a graceful stop, the second ends the grace period.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Install = Callable[..., object]


class Drainable(Protocol):
    """What the drain asks of a model: how it stops accepting and how it closes."""

    def stop_accepting(self) -> None:
        """Close the listening socket (new connections are refused from now on)."""

    def stop_connections(self) -> None:
        """Ask every open connection to close: idle ones now, busy ones after their response."""

    def open_connections(self) -> int:
        """How many connections (or workers holding connections) are still open."""

    def abort_connections(self) -> None:
        """The grace period is over: close whatever is still open, at once."""


class Lifecycle:
    """Signals recorded for a model's main loop, and the drain every model shares.

    Args:
        graceful_timeout: seconds in-flight requests get to finish once stopping.
        clock: a monotonic clock (injectable for tests).
    """

    def __init__(
        self, graceful_timeout: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.graceful_timeout = graceful_timeout
        self.stop_signals = 0
        self._other: deque[int] = deque()
        self._wake: Callable[[], object] = _nothing
        self._clock = clock

    # -- signals -----------------------------------------------------------------
    def handle_signals(
        self,
        wake: Callable[[], object],
        *,
        also: tuple[int, ...] = (),
        install: Install | None = None,
    ) -> None:
        """From now on, record SIGINT, SIGTERM and ``also``, calling ``wake()`` after each.

        ``install(signum, callback, signum)`` registers the handler the model's
        way (``loop.add_signal_handler``, ``gevent.signal_handler``); the default
        is ``signal.signal`` in the main thread.
        """
        self._wake = wake
        for signum in (*STOP_SIGNALS, *also):
            if install is None:
                signal.signal(signum, self._from_signal_module)
            else:
                install(signum, self.record, signum)

    def wake_by_pipe(self, *, also: tuple[int, ...] = ()) -> WakeupPipe:
        """Record signals for a main thread that blocks in ``select``/``poll``: a :class:`WakeupPipe`.

        The pipe is woken by every recorded signal, whichever thread it was
        delivered to; the model waits on it (and may wake it itself).
        """
        wakeup = WakeupPipe()
        wakeup.watch_signals()
        self.handle_signals(wakeup.wake, also=also)
        return wakeup

    def _from_signal_module(self, signum: int, frame: object) -> None:
        self.record(signum)

    def record(self, signum: int) -> None:
        """The handler: note ``signum`` and wake the main loop. Never raises, never blocks."""
        if signum in STOP_SIGNALS:
            self.stop_signals += 1
        else:
            self._other.append(signum)
        self._wake()

    def take(self) -> list[int]:
        """The recorded signals other than SIGINT/SIGTERM, oldest first (and forget them)."""
        taken = []
        while self._other:
            taken.append(self._other.popleft())
        return taken

    @property
    def stopping(self) -> bool:
        """A stop signal has arrived: stop accepting and drain."""
        return self.stop_signals > 0

    @property
    def forced(self) -> bool:
        """A second stop signal has arrived: end the grace period now."""
        return self.stop_signals > 1

    # -- the drain ---------------------------------------------------------------
    def drain(self, server: Drainable, *, held: Callable[[], int] | None = None) -> Iterator[float]:
        """Drain ``server``; yields how long the model may wait before looking again.

        The model waits at most that long, returning early when a connection
        closes or a signal arrives (whatever calls its ``wake``), and does any
        bookkeeping those events need (reaping children) before the next step::

            for timeout in lifecycle.drain(server):
                wakeup.wait(timeout)

        Counts ``held()`` (default: ``server.open_connections()``) for the one
        line the process prints on stderr as it exits, ``stopped: drained N
        connections ...``, adding up every drain it ran (a model with a loop
        per thread drains once per loop), unless :attr:`reports` is off (a
        worker's drain inside a supervised server: the supervisor reports).
        """
        count = held or server.open_connections
        started = self._clock()
        before = count()
        server.stop_accepting()
        server.stop_connections()
        deadline = started + self.graceful_timeout
        while server.open_connections() and not self.forced:
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            yield remaining
        left = count() if server.open_connections() else 0
        server.abort_connections()
        if Lifecycle.reports and self._wake is not _nothing:  # a server's, handling signals
            _DRAINED.add(before, left, self._clock() - started)

    #: Whether :meth:`drain` prints the stop line (off in a supervised server's workers).
    reports = True


class _Drained:
    """What this process drained, said once as it exits (every drain adds to it)."""

    def __init__(self) -> None:
        self.before = self.left = 0
        self.seconds = 0.0
        self.lock = threading.Lock()
        self.registered = False

    def add(self, before: int, left: int, seconds: float) -> None:
        with self.lock:
            if not self.registered:
                atexit.register(self.say)
                self.registered = True
            self.before += before
            self.left += left
            self.seconds = max(self.seconds, seconds)

    def say(self) -> None:
        print(stop_line(self.before, self.left, self.seconds), file=sys.stderr, flush=True)


def stop_line(before: int, left: int, seconds: float) -> str:
    """What a server says once it stopped: how many connections it drained, and how many it cut."""
    drained = before - left
    line = f"stopped: drained {drained} connection{'' if drained == 1 else 's'} in {seconds:.1f} s"
    if left:
        line += f"; closed {left} still open when the grace period ended"
    return line


class PumpSet:
    """A mixin for a model that keeps its live connections in ``self.pumps``, each with ``stop()``.

    Provides the drain's :meth:`stop_connections` and :meth:`open_connections`.
    """

    pumps: set

    def stop_connections(self) -> None:
        for pump in list(self.pumps):  # list(): one step, even while other threads add and remove
            pump.stop()

    def open_connections(self) -> int:
        return len(self.pumps)


class WakeupPipe:
    """A self-pipe that interrupts a blocking main loop (``select`` on :meth:`fileno`).

    :meth:`wake` may be called from a signal handler, another thread or a
    greenlet. :meth:`watch_signals` makes the C-level signal handler write to
    it too (``signal.set_wakeup_fd``), so a signal delivered to any thread wakes
    the main thread's ``select``.
    """

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def fileno(self) -> int:
        return self._read

    def watch_signals(self) -> None:
        signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)

    def wake(self) -> None:
        try:
            os.write(self._write, b"\0")
        except (BlockingIOError, OSError):  # full: a wake-up is pending anyway; closed: too late
            pass

    def wait(self, timeout: float | None) -> bool:
        """Block until woken or ``timeout`` passes; True if woken (the pipe is emptied)."""
        ready, _, _ = select.select([self._read], [], [], timeout)
        if ready:
            self.clear()
        return bool(ready)

    def clear(self) -> None:
        try:
            while os.read(self._read, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self) -> None:
        """Close both ends (a forked child does, first thing: the pipe is its parent's)."""
        try:
            previous = signal.set_wakeup_fd(-1)
            if previous not in (-1, self._write):  # someone else's: put it back
                signal.set_wakeup_fd(previous)
        except ValueError:  # not the main thread: the wakeup fd is not ours to change
            pass
        for fd in (self._read, self._write):
            try:
                os.close(fd)
            except OSError:
                pass


def ended_children() -> Iterator[tuple[int, int]]:
    """``(pid, status)`` of each child that has ended, without waiting (after SIGCHLD woke the loop)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        yield pid, status


def describe_exit(exitcode: int | None) -> str:
    """A child's end in words, from its exit code (negative: the signal that killed it)."""
    if exitcode is not None and exitcode < 0:
        return f"killed by {signal.Signals(-exitcode).name}"
    return f"exit code {exitcode}"


_DRAINED = _Drained()


def _nothing() -> None:
    pass
