"""A bounded pool of upstream connections for one event loop's thread (no IO, no locks).

The loops (asyncio, uvloop, the hand-made one, the ring) share this
bookkeeping and differ only in how they wait: ``take(give)`` calls
``give(connection)`` at once with an idle connection, ``give(None)`` when the
caller may open a new one (under ``size``), or queues ``give`` until
``put`` or ``drop`` frees one; the caller bounds that wait with its own timer
and ``cancel(give)`` (then answers 503).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

Conn = TypeVar("Conn")


class Slots(Generic[Conn]):
    """At most ``size`` connections open (or opening); the idle ones; who waits for one."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.open = 0
        self.idle: list[Conn] = []
        self.waiting: deque[Callable[[Conn | None], object]] = deque()

    def take(self, give: Callable[[Conn | None], object]) -> bool:
        """``give`` an idle connection or None (open one); False when it was queued instead."""
        if self.idle:
            give(self.idle.pop())
        elif self.open < self.size:
            self.open += 1
            give(None)
        else:
            self.waiting.append(give)
            return False
        return True

    def put(self, conn: Conn) -> None:
        """A query is done with ``conn``: to the first waiter, else idle."""
        if self.waiting:
            self.waiting.popleft()(conn)
        else:
            self.idle.append(conn)

    def drop(self) -> None:
        """A connection in use was closed: the first waiter may open another."""
        if self.waiting:
            self.waiting.popleft()(None)
        else:
            self.open -= 1

    def lost(self, conn: Conn) -> None:
        """An idle connection was closed by the upstream."""
        if conn in self.idle:
            self.idle.remove(conn)
            self.open -= 1

    def cancel(self, give: Callable[[Conn | None], object]) -> None:
        """Stop waiting (the wait's bound passed)."""
        try:
            self.waiting.remove(give)
        except ValueError:
            pass
