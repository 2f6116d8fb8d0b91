"""Coroutines made of plain generators, an event loop over ``selectors``: no asyncio.

The 500 Lines crawler's second act, modernised: a coroutine is a generator
that ``yield``s a :class:`Future` it waits for (``yield from future`` reads
its result); a :class:`Task` steps a coroutine each time the future it waits
for resolves; the :class:`Loop` resolves futures when a socket is ready or a
timer fires. ``yield from`` composes coroutines as ``await`` does.
"""

from __future__ import annotations

import heapq
import selectors
import socket
import time
from collections import deque
from collections.abc import Callable, Generator
from typing import Any

Coroutine = Generator["Future", Any, Any]


class Cancelled(Exception):
    """Thrown into a task's coroutine by :meth:`Task.cancel`."""


class Future:
    """A result that is not there yet."""

    def __init__(self) -> None:
        self.done = False
        self.result: Any = None
        self.exception: BaseException | None = None
        self._callbacks: list[Callable[[Future], None]] = []

    def add_done_callback(self, fn: Callable[[Future], None]) -> None:
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
            yield self  # the task resumes us when this future resolves
        if self.exception is not None:
            raise self.exception
        return self.result


class Task(Future):
    """Runs a coroutine; resolves with its return value."""

    def __init__(self, loop: Loop, coro: Coroutine) -> None:
        super().__init__()
        self.loop = loop
        self.coro = coro
        self._waiting: Future | None = None
        loop.call_soon(self._step, None, None)

    def cancel(self) -> None:
        if not self.done:
            self._waiting = None
            self.loop.call_soon(self._step, None, Cancelled())

    def _step(self, value: Any, exc: BaseException | None) -> None:
        if self.done:
            return
        try:
            future = self.coro.throw(exc) if exc is not None else self.coro.send(value)
        except StopIteration as stop:
            self.set_result(stop.value)
        except Cancelled as cancelled:
            self.set_exception(cancelled)
        except Exception as error:  # noqa: BLE001 - a task stores what its coroutine raised
            self.set_exception(error)
        else:
            self._waiting = future
            future.add_done_callback(self._wakeup)

    def _wakeup(self, future: Future) -> None:
        if future is self._waiting:  # steps always run from the loop, never re-entrantly
            self.loop.call_soon(self._resume, future)

    def _resume(self, future: Future) -> None:
        if future is self._waiting:  # not a stale wake-up after a cancel
            self._waiting = None
            self._step(None, None)


class Timer:
    """A callback due at ``when``; cancelled ones are skipped when their turn comes."""

    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, fn: Callable[..., None], args: tuple[Any, ...]) -> None:
        self.when, self.fn, self.args, self.cancelled = when, fn, args, False

    def __lt__(self, other: Timer) -> bool:
        return self.when < other.when


class Loop:
    """Ready callbacks, timers and a selector: the whole event loop."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.ready: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self.timers: list[Timer] = []

    def call_soon(self, fn: Callable[..., None], *args: Any) -> None:
        self.ready.append((fn, args))

    def call_at(self, when: float, fn: Callable[..., None], *args: Any) -> Timer:
        timer = Timer(when, fn, args)
        heapq.heappush(self.timers, timer)
        return timer

    def sleep(self, seconds: float) -> Future:
        """A future resolved after ``seconds``: ``yield from loop.sleep(s)``."""
        future = Future()
        self.call_at(time.monotonic() + seconds, future.set_result, None)
        return future

    def wait_io(self, sock: socket.socket, events: int, deadline: float) -> Coroutine:
        """Wait until ``sock`` is ready for ``events``; raise TimeoutError at ``deadline``."""
        future = Future()
        self.selector.register(sock, events, future)
        timer = self.call_at(deadline, future.set_exception, TimeoutError("request timed out"))
        try:
            yield from future
        finally:
            timer.cancelled = True
            self.selector.unregister(sock)

    def run_until_complete(self, task: Task) -> Any:
        """Run until ``task`` is done; returns its result (or raises its exception)."""
        while not task.done:
            self._run_once()
        if task.exception is not None:
            raise task.exception
        return task.result

    def _run_once(self) -> None:
        timers = self.timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
        if self.ready:
            timeout: float | None = 0.0
        elif timers:
            timeout = max(0.0, timers[0].when - time.monotonic())
        elif self.selector.get_map():
            timeout = None
        else:
            raise RuntimeError("deadlock: no task can ever be woken")
        for key, _ in self.selector.select(timeout):
            self.ready.append((key.data.set_result, (None,)))
        now = time.monotonic()
        while timers and timers[0].when <= now:
            timer = heapq.heappop(timers)
            if not timer.cancelled:
                self.ready.append((timer.fn, timer.args))
        for _ in range(len(self.ready)):
            fn, args = self.ready.popleft()
            fn(*args)

    def close(self) -> None:
        self.selector.close()


class Queue:
    """The queue / task_done / join shape, for generator coroutines."""

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
        yield from self.finished
