"""Coroutines made of generators: a coroutine ``yield``s what it waits for, a Task steps it.

Where blocking code would call ``recv`` and wait, a coroutine says what it
waits for and hands control back to the loop::

    if (yield readable(sock, deadline)):   # suspended here until sock is readable...
        data = sock.recv(65536)            # ...so this recv does not block
    else:
        ...                                # the deadline came first

What a coroutine may ``yield`` (and what the ``yield`` expression then gives back):

* :func:`readable` / :func:`writable` ``(sock_or_fd, deadline=None)``:
  ``True`` once the socket is ready, ``False`` if the deadline came first;
* :func:`sleep` ``(seconds)``: ``False``, once the time is up;
* a :class:`Future`: ``None`` once it is resolved; ``result = yield from
  future`` reads its result (``Future.__iter__`` yields the future itself).

``yield from other()`` runs another coroutine inside this one: its yields go
straight to the Task, and its ``return`` value becomes the value of the
``yield from`` expression (``await``, before Python had the word).

A :class:`Task` steps one coroutine: it ``send``s in the answer to the last
request, takes the next request, and arranges to be called when that arrives
(a reader or writer on the loop, a timer, a future's done callback). The
socket stays registered while the coroutine keeps asking for the same thing,
so a connection that reads request after request costs no ``epoll_ctl``.
Between two ``yield`` s a coroutine runs alone: nothing else can touch what it
shares, so there are no locks anywhere (the article's point: 不需要多线程的锁机制).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

from handloop.loop import READ, WRITE, Loop, Timer

log = logging.getLogger(__name__)

#: What a coroutine yields to wait for IO or time: (events, socket or fd, deadline).
Request = tuple[int, Any, "float | None"]
Coroutine = Generator[Any, Any, Any]


def readable(sock: Any, deadline: float | None = None) -> Request:
    """Wait until ``sock`` (a socket or an fd) is readable, or until ``deadline``."""
    return (READ, sock, deadline)


def writable(sock: Any, deadline: float | None = None) -> Request:
    """Wait until ``sock`` can take more bytes, or until ``deadline``."""
    return (WRITE, sock, deadline)


def sleep(seconds: float) -> Request:
    """Wait ``seconds`` (no socket)."""
    return (0, None, time.monotonic() + seconds)


class Cancelled(Exception):
    """Thrown into a coroutine by :meth:`Task.cancel`, at the ``yield`` where it waits."""


class Future:
    """A result that is not there yet; callbacks run when it is set."""

    def __init__(self) -> None:
        self.done = False
        self.result: Any = None
        self.exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], object]] = []

    def add_done_callback(self, fn: Callable[[Future], object]) -> None:
        if self.done:
            fn(self)
        else:
            self._callbacks.append(fn)

    def set_result(self, result: Any = None) -> None:
        self._resolve(result, None)

    def set_exception(self, exc: BaseException) -> None:
        self._resolve(None, exc)

    def _resolve(self, result: Any, exc: BaseException | None) -> None:
        if self.done:
            return
        self.done, self.result, self.exception = True, result, exc
        callbacks, self._callbacks = self._callbacks, []
        for fn in callbacks:
            fn(self)

    def __iter__(self) -> Coroutine:
        if not self.done:
            yield self  # the task resumes us when this future is resolved
        if self.exception is not None:
            raise self.exception
        return self.result


class Task(Future):
    """Steps one coroutine on ``loop``; resolves with its return value (or what it raised)."""

    def __init__(self, loop: Loop, coro: Coroutine) -> None:
        super().__init__()
        self.loop = loop
        self.coro = coro
        self.fileobj: Any = None  # the socket (or fd) waited on, registered for self.events
        self.fd = -1
        self.events = 0
        self.deadline: float | None = None  # when the current wait ends with False
        self.timer: Timer | None = None  # armed at or before self.deadline
        self.future: Future | None = None  # the future waited on
        loop.call_soon(self._step, None)

    def cancel(self) -> None:
        """Throw :class:`Cancelled` into the coroutine where it waits (at the end of this turn)."""
        if not self.done:
            self._forget_io()
            self.deadline = self.future = None
            self.loop.call_soon(self._step, None, Cancelled())

    def expire(self) -> None:
        """End the current wait for IO or time now, as if its deadline had come."""
        if not self.done and self.future is None:
            self.deadline = 0.0
            if self.timer is not None:
                self.timer.cancel()
            self.timer = self.loop.call_at(0.0, self._time_is_up)

    def _step(self, value: Any, exc: BaseException | None = None) -> None:
        """Resume the coroutine with ``value`` (or ``exc``); wait for what it yields next."""
        if self.done:
            return
        try:
            request = self.coro.send(value) if exc is None else self.coro.throw(exc)
        except StopIteration as stop:
            self._finish(stop.value, None)
            return
        except Exception as error:  # a task keeps what its coroutine raised
            self._finish(None, error)
            return
        if type(request) is tuple:
            events, fileobj, deadline = request
            if fileobj is not self.fileobj or events != self.events:
                self._forget_io()
                if events:
                    self._watch_io(events, fileobj)
            self.deadline = deadline
            if deadline is not None:
                timer = self.timer
                if timer is None or timer.when > deadline:  # else the earlier timer re-arms itself
                    if timer is not None:
                        timer.cancel()
                    self.timer = self.loop.call_at(deadline, self._time_is_up)
        elif isinstance(request, Future):
            self._forget_io()
            self.deadline = None
            self.future = request
            request.add_done_callback(self._future_done)
        else:
            wrong = TypeError(f"a coroutine yielded {request!r}: yield readable(), sleep()...")
            self.loop.call_soon(self._step, None, wrong)

    def _watch_io(self, events: int, fileobj: Any) -> None:
        self.fileobj, self.events = fileobj, events
        self.fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        if events == READ:
            self.loop.add_reader(self.fd, self._io_ready)
        else:
            self.loop.add_writer(self.fd, self._io_ready)

    def _forget_io(self) -> None:
        if self.events == READ:
            self.loop.remove_reader(self.fd)
        elif self.events == WRITE:
            self.loop.remove_writer(self.fd)
        self.fileobj, self.events = None, 0

    def _io_ready(self) -> None:
        self._step(True)

    def _time_is_up(self) -> None:
        self.timer = None
        deadline = self.deadline
        if deadline is None:
            return
        if time.monotonic() < deadline:  # the deadline moved later since this timer was set
            self.timer = self.loop.call_at(deadline, self._time_is_up)
            return
        self.deadline = None
        self._step(False)

    def _future_done(self, future: Future) -> None:
        self.loop.call_soon(self._resume, future)  # never step inside another task's step

    def _resume(self, future: Future) -> None:
        if future is self.future:  # not a stale wake-up after a cancel
            self.future = None
            self._step(None)

    def _finish(self, result: Any, exc: BaseException | None) -> None:
        self._forget_io()
        self.deadline = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if exc is None:
            self.set_result(result)
            return
        if not self._callbacks and not isinstance(exc, Cancelled):
            log.error("a task nobody waits for failed", exc_info=exc)
        self.set_exception(exc)


def run_until_complete(loop: Loop, task: Task | Coroutine) -> Any:
    """Run ``loop`` until ``task`` (or a Task made of a coroutine) is done; return its result."""
    if not isinstance(task, Task):
        task = Task(loop, task)
    task.add_done_callback(lambda _: loop.stop())
    loop.run()
    if not task.done:
        raise RuntimeError("the loop stopped before the task was done")
    if task.exception is not None:
        raise task.exception
    return task.result


class Queue:
    """The queue / task_done / join shape of ``queue.Queue`` and ``asyncio.Queue``, for coroutines."""

    def __init__(self) -> None:
        self.items: deque[Any] = deque()
        self.getters: deque[Future] = deque()
        self.unfinished = 0
        self.finished = Future()
        self.finished.set_result(None)

    def put_nowait(self, item: Any) -> None:
        self.unfinished += 1
        if self.finished.done:
            self.finished = Future()
        while self.getters:
            getter = self.getters.popleft()
            if not getter.done:
                getter.set_result(item)
                return
        self.items.append(item)

    def get(self) -> Coroutine:
        """``item = yield from queue.get()``: the next item, waiting for one if need be."""
        if self.items:
            return self.items.popleft()
        getter = Future()
        self.getters.append(getter)
        return (yield from getter)

    def task_done(self) -> None:
        self.unfinished -= 1
        if self.unfinished == 0:
            self.finished.set_result(None)

    def join(self) -> Coroutine:
        """``yield from queue.join()``: until every item put has been marked done."""
        yield from self.finished
