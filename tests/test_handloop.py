"""The hand-made loop (handloop): callbacks, timers, and generator coroutines on them."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from handloop import (
    Cancelled,
    Coroutine,
    Future,
    Loop,
    Queue,
    Task,
    readable,
    run_until_complete,
    sleep,
    writable,
)
from handloop.loop import Deadlock


@pytest.fixture
def loop() -> Iterator[Loop]:
    loop = Loop()
    yield loop
    loop.close()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    a.setblocking(False)
    yield a, b
    a.close()
    b.close()


# -- the loop: callbacks ---------------------------------------------------------------


def test_timers_fire_in_time_order_and_cancelled_ones_never(loop: Loop) -> None:
    fired: list[str] = []
    now = time.monotonic()
    loop.call_at(now + 0.03, fired.append, "late")
    loop.call_at(now + 0.01, fired.append, "early")
    loop.call_at(now + 0.02, fired.append, "cancelled").cancel()
    loop.call_soon(fired.append, "soon")
    loop.call_at(now + 0.04, loop.stop)
    loop.run()
    assert fired == ["soon", "early", "late"]
    assert time.monotonic() - now >= 0.04


def test_run_for_returns_after_the_time_or_at_stop(loop: Loop) -> None:
    loop.call_later(60, lambda: None)  # something to wait for
    start = time.monotonic()
    loop.run_for(0.05)
    assert 0.05 <= time.monotonic() - start < 5
    loop.call_soon(loop.stop)
    start = time.monotonic()
    loop.run_for(60)
    assert time.monotonic() - start < 5


def test_a_reader_is_called_while_readable_and_not_once_removed(loop: Loop, pair) -> None:
    a, b = pair
    got: list[bytes] = []

    def on_readable() -> None:
        got.append(a.recv(100))
        if len(got) == 2:
            loop.remove_reader(a.fileno())
            loop.call_later(0.05, loop.stop)  # time for a third message to (not) be read

    loop.add_reader(a.fileno(), on_readable)
    b.sendall(b"one")
    loop.call_later(0.02, b.sendall, b"two")
    loop.call_later(0.04, b.sendall, b"three")
    loop.run()
    assert got == [b"one", b"two"]
    assert a.recv(100) == b"three"  # arrived after the reader was removed: not read


def test_a_writer_and_a_reader_share_one_registration(loop: Loop, pair) -> None:
    a, b = pair
    calls: list[str] = []
    b.sendall(b"x")
    loop.add_reader(a.fileno(), lambda: calls.append("read") or loop.remove_reader(a.fileno()))
    loop.add_writer(a.fileno(), lambda: calls.append("write") or loop.remove_writer(a.fileno()))
    loop.call_later(0.02, loop.stop)
    loop.run()
    assert calls == ["read", "write"]
    assert loop.handlers == {}  # both removed: unregistered


def test_an_event_for_a_socket_unwatched_in_the_same_turn_is_dropped(loop: Loop) -> None:
    """A callback closes another ready socket: that socket's callback must not run."""
    pairs = [socket.socketpair() for _ in range(2)]
    called: list[int] = []
    try:

        def on_readable(i: int) -> None:
            called.append(i)
            other = pairs[1 - i][0]
            loop.remove_reader(other.fileno())
            loop.stop()

        for i, (a, b) in enumerate(pairs):
            b.sendall(b"x")
            loop.add_reader(a.fileno(), lambda i=i: on_readable(i))
        loop.run()
        assert len(called) == 1
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_a_failing_callback_is_logged_and_the_loop_goes_on(
    loop: Loop, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise ValueError("a bug in one callback")

    loop.call_soon(broken)
    loop.call_later(0.01, loop.stop)
    with caplog.at_level(logging.ERROR):
        loop.run()
    assert "a callback of the loop failed" in caplog.text and "a bug in one callback" in caplog.text


def test_nothing_to_wait_for_is_a_deadlock(loop: Loop) -> None:
    with pytest.raises(Deadlock):
        loop.run()


def test_cancelled_timers_do_not_pile_up(loop: Loop) -> None:
    for _ in range(10):
        timers = [loop.call_later(3600, lambda: None) for _ in range(1000)]
        for timer in timers:
            timer.cancel()
        loop.call_soon(loop.stop)
        loop.run()
    assert len(loop.timers) <= 2 * Loop.COMPACT_AT


# -- coroutines -------------------------------------------------------------------------


def test_readable_resumes_with_true_and_the_socket_stays_registered(
    loop: Loop, pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = pair
    registrations = []
    register = loop.selector.register
    monkeypatch.setattr(
        loop.selector, "register", lambda *args: registrations.append(args) or register(*args)
    )

    def reader() -> Coroutine:
        got = b""
        while len(got) < 3:
            assert (yield readable(a, time.monotonic() + 5)) is True
            got += a.recv(1)
        return got

    task = Task(loop, reader())
    for i, byte in enumerate(b"abc"):
        loop.call_later(0.01 * (i + 1), b.sendall, bytes([byte]))
    assert run_until_complete(loop, task) == b"abc"
    assert len(registrations) == 1  # asked three times for the same: registered once
    assert loop.handlers == {}  # and forgotten when the task ended


def test_a_deadline_resumes_with_false(loop: Loop, pair) -> None:
    a, _ = pair

    def waiter() -> Coroutine:
        start = time.monotonic()
        ready = yield readable(a, start + 0.05)
        return ready, time.monotonic() - start

    ready, waited = run_until_complete(loop, waiter())
    assert ready is False and 0.05 <= waited < 5


def test_writable_sleep_futures_and_yield_from(loop: Loop, pair) -> None:
    a, _ = pair
    future = Future()
    loop.call_later(0.02, future.set_result, 42)

    def inner() -> Coroutine:
        yield sleep(0.01)
        return (yield from future)

    def outer() -> Coroutine:
        assert (yield writable(a)) is True
        return (yield from inner()) + 1

    assert run_until_complete(loop, outer()) == 43


def test_a_future_exception_is_raised_at_the_yield_from(loop: Loop) -> None:
    future = Future()
    loop.call_soon(future.set_exception, KeyError("missing"))

    def waiter() -> Coroutine:
        try:
            yield from future
        except KeyError:
            return "caught"

    assert run_until_complete(loop, waiter()) == "caught"


def test_cancel_throws_into_the_coroutine_where_it_waits(loop: Loop, pair) -> None:
    a, _ = pair
    cleaned: list[str] = []

    def forever() -> Coroutine:
        try:
            yield readable(a)
        finally:
            cleaned.append("closed")

    task = Task(loop, forever())
    loop.call_later(0.01, task.cancel)
    with pytest.raises(Cancelled):
        run_until_complete(loop, task)
    assert cleaned == ["closed"] and loop.handlers == {}


def test_expire_ends_an_io_wait_now_but_not_a_future_wait(loop: Loop, pair) -> None:
    a, _ = pair
    future = Future()

    def waiter() -> Coroutine:
        first = yield readable(a, time.monotonic() + 60)
        yield from future
        return first

    task = Task(loop, waiter())
    loop.call_later(0.01, task.expire)
    loop.call_later(0.02, task.expire)  # now waiting for the future: no effect
    loop.call_later(0.05, future.set_result, None)
    start = time.monotonic()
    assert run_until_complete(loop, task) is False
    assert time.monotonic() - start < 5


def test_yielding_something_else_raises_type_error_in_the_coroutine(loop: Loop) -> None:
    def wrong() -> Coroutine:
        try:
            yield 42
        except TypeError as exc:
            return str(exc)

    assert "yielded 42" in run_until_complete(loop, wrong())


def test_a_task_nobody_waits_for_logs_its_failure(
    loop: Loop, caplog: pytest.LogCaptureFixture
) -> None:
    def failing() -> Coroutine:
        yield sleep(0)
        raise ValueError("lost")

    with caplog.at_level(logging.ERROR):
        Task(loop, failing())
        run_until_complete(loop, sleep_coro(0.02))
    assert "a task nobody waits for failed" in caplog.text and "lost" in caplog.text


def sleep_coro(seconds: float) -> Coroutine:
    yield sleep(seconds)


def test_queue_join_waits_for_every_item_put_even_later(loop: Loop) -> None:
    jobs = Queue()
    done: list[int] = []

    def worker() -> Coroutine:
        while True:
            n = yield from jobs.get()
            yield sleep(0.001 * n)
            if n < 3:
                jobs.put_nowait(n + 10)
            done.append(n)
            jobs.task_done()

    for n in range(5):
        jobs.put_nowait(n)
    workers = [Task(loop, worker()) for _ in range(2)]
    run_until_complete(loop, jobs.join())
    assert sorted(done) == [0, 1, 2, 3, 4, 10, 11, 12]
    for task in workers:
        task.cancel()


def test_the_loop_imports_only_what_a_subinterpreter_allows() -> None:
    """Pure Python on selectors, heapq and time: no asyncio, no third-party module."""
    code = (
        "import sys; before = set(sys.modules); import handloop;"
        "new = set(sys.modules) - before;"
        "print(sorted(m for m in new if m.split('.')[0] in ('asyncio', 'psutil', 'gevent', 'uvloop')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_cancelled_timer_lets_go_of_its_owner_at_once() -> None:
    """A connection that cancels its deadline and closes is freed by reference counting, not
    left in a cycle (connection -> timer -> bound method -> connection) for the collector."""
    import gc
    import weakref

    class Owner:
        def __init__(self, loop: Loop) -> None:
            self.deadline = loop.call_later(60, self.on_deadline)

        def on_deadline(self) -> None:
            raise AssertionError("a cancelled timer fired")

    loop = Loop()
    owner = Owner(loop)
    gone = weakref.ref(owner)
    gc.disable()
    try:
        owner.deadline.cancel()  # the timer stays in the heap, and the owner keeps it
        del owner
        assert gone() is None
    finally:
        gc.enable()
    loop.call_later(0, loop.stop)
    loop.run()  # the cancelled timer is skipped, not called
    loop.close()
