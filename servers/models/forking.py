"""``fork``: one process per connection, made with ``os.fork()``.

``fork()`` returns twice: 0 in the child, which serves the connection and
``_exit``s; the child's pid in the parent, which records it. The parent's
SIGCHLD handler only records the signal and wakes the accept loop, which then
reaps every child that ended (so there is never a zombie) and frees its slot.
At most ``--max-connections`` children live at once (default 512); at the cap
a new connection gets 503. A child that crashes takes only its own connection
with it.

A fork costs in proportion to the parent (the kernel copies its page tables,
the child tears them down), and every page of the parent that the child writes
to is copied, which in CPython means every page holding an object whose
reference count the child changes. So the parent stays lean: it imports only
what serving needs (its counters live in an anonymous shared mapping rather
than ``multiprocessing``), and the child does as little as it can: it closes
its copy of the listening socket and keeps everything else it inherited,
including the parent's signal handlers, which it points at its own connection
(a stop signal to a child also wakes the parent once; it finds nothing to reap).
"""

from __future__ import annotations

import logging
import mmap
import os
import signal
import socket
from collections.abc import Callable

from servers.lifecycle import Lifecycle, WakeupPipe, ended_children
from servers.models._blocking import Acceptor, BlockingPump
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.stats import SharedStats

log = logging.getLogger(__name__)

DEFAULT_MAX_CHILDREN = 512


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    lifecycle = Lifecycle(config.graceful_timeout)
    wakeup = lifecycle.wake_by_pipe(also=(signal.SIGCHLD,))
    server = ForkServer(listener, config, lifecycle, wakeup)
    on_ready()
    for sock in server.acceptor:
        server.fork_child(sock)
    for timeout in lifecycle.drain(server):
        wakeup.wait(timeout)
        server.reap()


class ForkServer:
    """The children of a process-per-connection server, and how they stop."""

    def __init__(
        self,
        listener: socket.socket,
        config: ServerConfig,
        lifecycle: Lifecycle,
        wakeup: WakeupPipe,
    ) -> None:
        self.acceptor = Acceptor(listener, wakeup, lifecycle, config.protocol, on_wake=self.reap)
        self.config = config
        self.lifecycle = lifecycle
        self.wakeup = wakeup
        cap = config.max_connections or DEFAULT_MAX_CHILDREN
        self.stats = SharedStats("fork", shared_int64s(SharedStats.slots_needed(cap + 1)), 0)
        self.factory = make_connection_factory(config, self.stats)
        self.children: dict[int, int] = {}  # pid -> the stats slot it writes to
        self.free_slots = list(range(cap, 0, -1))

    def fork_child(self, sock: socket.socket) -> None:
        """Fork a child to serve ``sock`` (the parent returns at once), or refuse it."""
        if not self.free_slots:
            self.acceptor.refuse(sock)
            return
        slot = self.free_slots.pop()
        try:
            pid = os.fork()
        except OSError as exc:  # EAGAIN/ENOMEM: out of processes or memory
            self.free_slots.append(slot)
            self.acceptor.refuse(sock)
            self.acceptor.pause(exc)
            return
        if pid == 0:
            self._child(sock, slot)  # never returns
        self.children[pid] = slot
        self.stats.opened()
        sock.close()

    def _child(self, sock: socket.socket, slot: int) -> None:
        """The child's side of ``fork()``: serve one connection, then ``_exit``."""
        code = 0
        try:
            self.acceptor.close()  # this copy of the listener (and of lingering refusals)
            self.stats.move_to_slot(slot)  # this copy of stats is the child's own
            pump = BlockingPump(sock, self.factory(), timeouts="kernel")
            # the parent's handlers are in place already: a stop signal now stops this pump
            self.lifecycle.handle_signals(pump.stop, install=_installed_already)
            pump.serve()
        except BaseException:
            log.exception("child %d failed", os.getpid())
            code = 1
        finally:
            os._exit(code)

    def reap(self) -> None:
        """Collect every child that has ended (after a SIGCHLD woke the loop)."""
        for pid, status in ended_children():
            self._forget(pid, status)

    def _forget(self, pid: int, status: int, *, quiet: bool = False) -> None:
        slot = self.children.pop(pid, None)
        if slot is None:
            return
        self.stats.absorb(slot)
        self.stats.closed()
        self.free_slots.append(slot)
        if os.WIFSIGNALED(status) and not quiet:
            sig = signal.Signals(os.WTERMSIG(status)).name
            log.warning("child %d (one connection) killed by %s; still serving", pid, sig)

    # -- what the drain needs --------------------------------------------------------
    def stop_accepting(self) -> None:
        self.acceptor.close()

    def stop_connections(self) -> None:
        """SIGTERM every child: each finishes its request in flight, then exits."""
        for pid in self.children:
            _kill(pid, signal.SIGTERM)

    def open_connections(self) -> int:
        return len(self.children)

    def abort_connections(self) -> None:
        for pid in self.children:
            _kill(pid, signal.SIGKILL)
        while self.children:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            self._forget(pid, status, quiet=True)


def shared_int64s(count: int) -> memoryview:
    """``count`` zeroed 64-bit integers in memory shared with every child forked afterwards."""
    return memoryview(mmap.mmap(-1, 8 * count)).cast("q")


def _installed_already(signum: int, record: Callable[[int], None], arg: int) -> None:
    """A ``Lifecycle`` installer for a forked child: the handlers came with the fork."""


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
