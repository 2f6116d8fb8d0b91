"""An event loop and generator coroutines, written by hand on ``selectors``: no asyncio.

The article's "message loop" (异步IO模型需要一个消息循环) and its "coroutines
through generators" (对协程的支持通过生成器实现), each small enough to read in
one sitting:

* :mod:`handloop.loop`: :class:`Loop`, one thread repeating "wait for events,
  handle them": sockets ready to read or write (a callback each), timers due
  (a heap), callbacks asked for with :meth:`Loop.call_soon`.
* :mod:`handloop.coroutines`: a coroutine is a generator that ``yield``s what
  it waits for (:func:`readable`, :func:`writable`, :func:`sleep`, or a
  :class:`Future`); a :class:`Task` steps it each time that arrives.

Used by the ``reactor`` server (callbacks on the loop), the ``generators``
server and the ``generators`` crawler (coroutines on it). Pure Python and the
standard library only (``selectors``, ``heapq``, ``time``), so it runs wherever
Python does, subinterpreters included.
"""

from handloop.coroutines import (
    Cancelled,
    Coroutine,
    Future,
    Queue,
    Request,
    Task,
    readable,
    run_until_complete,
    sleep,
    writable,
)
from handloop.loop import Loop, Timer

__all__ = [
    "Cancelled",
    "Coroutine",
    "Future",
    "Loop",
    "Queue",
    "Request",
    "Task",
    "Timer",
    "readable",
    "run_until_complete",
    "sleep",
    "writable",
]
