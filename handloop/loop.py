"""The message loop: one thread, one selector, a heap of timers, a queue of callbacks.

Each turn of :meth:`Loop.run_once`:

1. work out how long it may sleep: not at all if callbacks are queued,
   until the earliest timer if there is one, else until a socket is ready;
2. ask the kernel (``selector.select``: ``epoll_wait`` on Linux) which of the
   watched descriptors are ready, and call the reader or writer callback
   registered for each, directly;
3. call every timer that is due, earliest first;
4. call the callbacks queued by :meth:`Loop.call_soon` (those queued while
   this runs wait for the next turn).

That is all an event loop is: asyncio's ``BaseEventLoop._run_once`` and
libuv's ``uv_run`` do these same four things (libuv in C). Nothing here
blocks except the ``select`` of step 2, so every callback must return
quickly: a callback that blocks holds up every connection.
"""

from __future__ import annotations

import heapq
import logging
import selectors
import time
from collections import deque
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
Callback = Callable[..., object]


class Deadlock(RuntimeError):
    """Nothing is watched and nothing is scheduled: the loop would wait forever."""


def _cancelled() -> None:
    """What a cancelled timer holds instead of its callback (never called)."""


class Timer:
    """A callback due at ``when`` (on ``time.monotonic()``); :meth:`cancel` unschedules it."""

    __slots__ = ("when", "callback", "args", "cancelled", "loop")

    def __init__(self, when: float, callback: Callback, args: tuple[Any, ...], loop: Loop) -> None:
        self.when, self.callback, self.args = when, callback, args
        self.cancelled = False
        self.loop: Loop | None = loop  # None once out of the heap

    def cancel(self) -> None:
        """Unschedule, and let go of the callback and its arguments at once.

        A cancelled timer may wait in the heap until it is popped or compacted, and
        its owner may keep it too (a connection's ``deadline``): holding the callback
        (a bound method) would keep the owner alive in a cycle, for the garbage
        collector's oldest generation to find much later.
        """
        if not self.cancelled:
            self.cancelled = True
            self.callback, self.args = _cancelled, ()
            if self.loop is not None:
                self.loop.cancelled_timers += 1

    def __lt__(self, other: Timer) -> bool:
        return self.when < other.when


class Loop:
    """Callbacks on file descriptors, timers and a ready queue, run until :meth:`stop`."""

    #: Rebuild the timer heap once this many cancelled timers (and half of it) wait there.
    COMPACT_AT = 256

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        #: fd -> [reader, writer]: the selector key's data, one list per registration
        self.handlers: dict[int, list[Callback | None]] = {}
        self.timers: list[Timer] = []
        self.cancelled_timers = 0
        self.ready: deque[tuple[Callback, tuple[Any, ...]]] = deque()
        self.stopping = False

    # -- what to call, and when ----------------------------------------------------
    def add_reader(self, fd: int, callback: Callback) -> None:
        """Call ``callback()`` every turn ``fd`` is readable (or at EOF, or in error)."""
        self._watch(fd, 0, callback)

    def add_writer(self, fd: int, callback: Callback) -> None:
        """Call ``callback()`` every turn ``fd`` can take more bytes."""
        self._watch(fd, 1, callback)

    def remove_reader(self, fd: int) -> None:
        self._unwatch(fd, 0)

    def remove_writer(self, fd: int) -> None:
        self._unwatch(fd, 1)

    def call_soon(self, callback: Callback, *args: Any) -> None:
        """Call ``callback(*args)`` at the end of this turn (or the next, if called from there)."""
        self.ready.append((callback, args))

    def call_at(self, when: float, callback: Callback, *args: Any) -> Timer:
        """Call ``callback(*args)`` once ``time.monotonic()`` reaches ``when``."""
        timer = Timer(when, callback, args, self)
        heapq.heappush(self.timers, timer)
        return timer

    def call_later(self, delay: float, callback: Callback, *args: Any) -> Timer:
        return self.call_at(time.monotonic() + delay, callback, *args)

    # -- running -------------------------------------------------------------------
    def run(self) -> None:
        """Run turns until :meth:`stop` is called (at once if it was called before)."""
        try:
            while not self.stopping:
                try:
                    self.run_once()
                except Deadlock:
                    raise
                except Exception:  # one callback's bug must not stop every connection
                    log.exception("a callback of the loop failed")
        finally:
            self.stopping = False

    def run_for(self, seconds: float) -> None:
        """Run until :meth:`stop` is called or ``seconds`` have passed."""
        timer = self.call_later(seconds, self.stop)
        self.run()
        timer.cancel()

    def stop(self) -> None:
        """Make :meth:`run` return once the current turn is over."""
        self.stopping = True

    def run_once(self) -> None:
        """One turn: wait for events (at most until the next timer), then handle them."""
        timers, ready = self.timers, self.ready
        if self.cancelled_timers > self.COMPACT_AT and self.cancelled_timers * 2 > len(timers):
            self._compact_timers()
        while timers and timers[0].cancelled:
            heapq.heappop(timers).loop = None
            self.cancelled_timers -= 1
        if ready or self.stopping:
            timeout: float | None = 0.0
        elif timers:
            timeout = max(0.0, timers[0].when - time.monotonic())
        elif self.handlers:
            timeout = None
        else:
            raise Deadlock("nothing is watched or scheduled: nothing can ever happen")

        for key, events in self.selector.select(timeout):
            handlers = key.data  # cleared by _unwatch, so a stale event finds None
            if events & READ:
                reader = handlers[0]
                if reader is not None:
                    reader()
            if events & WRITE:
                writer = handlers[1]
                if writer is not None:
                    writer()

        now = time.monotonic()
        while timers and timers[0].when <= now:
            timer = heapq.heappop(timers)
            timer.loop = None
            if timer.cancelled:
                self.cancelled_timers -= 1
            else:
                timer.callback(*timer.args)

        for _ in range(len(ready)):
            callback, args = ready.popleft()
            callback(*args)

    def close(self) -> None:
        self.selector.close()
        self.handlers.clear()

    # -- the selector's bookkeeping -------------------------------------------------
    def _watch(self, fd: int, slot: int, callback: Callback) -> None:
        handlers = self.handlers.get(fd)
        if handlers is None:
            handlers = [None, None]
            handlers[slot] = callback
            self.handlers[fd] = handlers
            self.selector.register(fd, READ if slot == 0 else WRITE, handlers)
        else:
            watched = handlers[slot] is not None
            handlers[slot] = callback
            if not watched:
                self.selector.modify(fd, READ | WRITE, handlers)

    def _unwatch(self, fd: int, slot: int) -> None:
        handlers = self.handlers.get(fd)
        if handlers is None or handlers[slot] is None:
            return
        handlers[slot] = None
        if handlers[1 - slot] is None:
            del self.handlers[fd]
            self.selector.unregister(fd)
        else:
            self.selector.modify(fd, WRITE if slot == 0 else READ, handlers)

    def _compact_timers(self) -> None:
        live = []
        for timer in self.timers:
            if timer.cancelled:
                timer.loop = None
            else:
                live.append(timer)
        heapq.heapify(live)
        self.timers[:] = live
        self.cancelled_timers = 0
