"""``threadloops``: one process, N threads, each running its own event loop.

"Processes plus coroutines" without the processes: every thread runs the
asyncio driver (:mod:`servers.models._aio`, unchanged) on a loop of its own
(uvloop when it imports, else the stdlib loop), and all of them accept on the
one listening socket, each through its own duplicate of it, taking a
connection only while it is among the least loaded (the
:class:`~servers.models._aio.BalancedAcceptor` the multiprocess workers use).

With the GIL the threads take turns on one core, so this is the lesson that
threads of loops still share one core; on a free-threaded Python
(``python3.13t``) they run on every core. The threads share the counters
behind ``/stats`` (``servers.stats.LockedStats``) and so one
``--max-connections`` cap. The main thread records the signals and tells every
loop to drain; a crash takes down the whole process.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from collections.abc import Callable

from servers.lifecycle import Lifecycle, WakeupPipe
from servers.models._aio import AsyncServer
from servers.models._fds import fd_cap
from servers.protocol.config import ServerConfig
from servers.stats import LockedStats

DEFAULT_MAX_CONNECTIONS = 20_000
START_TIMEOUT = 30.0


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    lifecycle = Lifecycle(config.graceful_timeout)
    wakeup = lifecycle.wake_by_pipe()
    count = config.workers or len(os.sched_getaffinity(0)) or 1
    stats = LockedStats("threadloops", workers=count)
    cap = fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS)
    threads: list[LoopThread] = []
    for index in range(count):
        thread = LoopThread(index, listener, config, stats, cap, threads, wakeup)
        threads.append(thread)
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.wait_ready()
    listener.close()  # each loop accepts on its own duplicate
    on_ready()
    told = 0
    while not all(thread.ended.is_set() for thread in threads):
        wakeup.wait(None)  # a signal, or a loop that ended
        while told < lifecycle.stop_signals:  # the first drains, the second ends the grace
            told += 1
            for thread in threads:
                thread.stop()
    for thread in threads:
        thread.join()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


class LoopThread(threading.Thread):
    """One thread with one event loop serving its duplicate of the listening socket."""

    def __init__(
        self,
        index: int,
        listener: socket.socket,
        config: ServerConfig,
        stats: LockedStats,
        cap: int,
        siblings: list[LoopThread],
        wakeup: WakeupPipe,
    ) -> None:
        super().__init__(name=f"loop-{index}", daemon=True)
        self.listener = listener.dup()
        self.config = config
        self.stats = stats
        self.cap = cap
        self.siblings = siblings
        self.wakeup = wakeup
        self.server: LoopServer | None = None
        self.ready = threading.Event()
        #: set when the loop has ended (is_alive() stays true a moment longer: no wake-up then)
        self.ended = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(self._main())
        except BaseException as exc:
            self.failure = exc
            raise
        finally:
            self.ready.set()
            self.ended.set()
            self.wakeup.wake()  # the main thread waits for every loop to end

    async def _main(self) -> None:
        self.server = LoopServer(self.config, self.stats, self.cap, self.least_loaded)
        await self.server.run(self.listener, self.ready.set)

    def wait_ready(self) -> None:
        """Until this loop accepts; raises if it ended (or hung) before that."""
        if not self.ready.wait(START_TIMEOUT) or self.failure is not None or not self.is_alive():
            raise RuntimeError(f"{self.name} did not start: {self.failure!r}")

    def open_connections(self) -> int:
        server = self.server
        return len(server.pumps) if server is not None else 0

    def least_loaded(self) -> bool:
        """True when no other loop has fewer open connections than this one."""
        mine = self.open_connections()
        return all(other.open_connections() >= mine for other in self.siblings)

    def stop(self) -> None:
        """Tell this loop a stop signal arrived (from the main thread)."""
        server = self.server
        if server is not None and not self.ended.is_set():
            try:
                server.loop.call_soon_threadsafe(server.lifecycle.record, signal.SIGTERM)
            except RuntimeError:  # the loop closed meanwhile
                pass


class LoopServer(AsyncServer):
    """The asyncio driver in a thread: the main thread records the signals and relays them."""

    def handle_signals(self) -> None:
        self.lifecycle.handle_signals(self.wakeup.set, install=_relayed)


def _relayed(signum: int, callback: Callable[[int], None], arg: int) -> None:
    """Install nothing: :meth:`LoopThread.stop` calls the callback on this loop."""
