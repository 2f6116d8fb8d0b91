"""``fork``: one process per connection, made with ``os.fork()``.

``fork()`` returns twice: 0 in the child, which serves the connection and
``_exit``s; the child's pid in the parent, which records it. The parent reaps
every child from its SIGCHLD handler (so there is never a zombie) and caps how
many live at once (``--max-connections``, default 512: about 0.7 MB of private
memory each); at the cap a new connection gets 503. A child that crashes takes
only its own connection with it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import time
from collections.abc import Callable

from servers.models._blocking import Acceptor, BlockingPump, Stop, StopSignals
from servers.models._effects import reject
from servers.protocol.config import ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.stats import SharedStats

log = logging.getLogger(__name__)

DEFAULT_MAX_CHILDREN = 512
_BLOCKED = {signal.SIGCHLD, signal.SIGINT, signal.SIGTERM}


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    cap = config.max_connections or DEFAULT_MAX_CHILDREN
    array = multiprocessing.RawArray("q", SharedStats.slots_needed(cap + 1))
    stats = SharedStats("fork", array, 0)
    factory = make_connection_factory(config, stats)
    children: dict[int, int] = {}  # pid -> stats slot
    free_slots = list(range(cap, 0, -1))

    def reap(signum: int = 0, frame: object = None) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = children.pop(pid, None)
            if slot is None:
                continue
            stats.absorb(slot)
            stats.closed()
            free_slots.append(slot)
            if os.WIFSIGNALED(status):
                sig = signal.Signals(os.WTERMSIG(status)).name
                log.warning("child %d (one connection) killed by %s; still serving", pid, sig)

    signals = StopSignals()
    signals.install()
    signal.signal(signal.SIGCHLD, reap)
    acceptor = Acceptor(listener)
    on_ready()
    try:
        while True:
            sock = acceptor.accept()
            if not free_slots:
                reject(sock, config.protocol)
                continue
            # No signal between fork() and the bookkeeping: a fast child could be missed,
            # and a child must not run the parent's SIGTERM handler.
            signal.pthread_sigmask(signal.SIG_BLOCK, _BLOCKED)
            try:
                slot = free_slots.pop()
                try:
                    pid = os.fork()
                except OSError as exc:  # EAGAIN/ENOMEM: out of processes or memory
                    free_slots.append(slot)
                    reject(sock, config.protocol)
                    acceptor.back_off(exc)
                    continue
                if pid == 0:
                    stats.move_to_slot(slot)  # this copy of stats is the child's own
                    _child(sock, listener, BlockingPump(sock, factory(), timeouts="kernel"))
                children[pid] = slot
                stats.opened()
            finally:
                sock.close()
                signal.pthread_sigmask(signal.SIG_UNBLOCK, _BLOCKED)
    except Stop:
        pass
    finally:
        signals.raise_on_first = False
        listener.close()
        _stop_children(children, reap, config.graceful_timeout, signals)


def _child(sock: socket.socket, listener: socket.socket, pump: BlockingPump) -> None:
    """The child's side of ``fork()``: serve one connection, then ``_exit`` (never returns)."""
    code = 0
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda s, f: pump.stop())
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _BLOCKED)
        listener.close()
        pump.serve()
    except BaseException:
        log.exception("child %d failed", os.getpid())
        code = 1
    finally:
        os._exit(code)


def _stop_children(
    children: dict[int, int], reap: Callable[[], None], grace: float, signals: StopSignals
) -> None:
    """SIGTERM every child (each finishes its request), wait out the grace period, then SIGKILL."""
    for pid in list(children):
        _kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while children and time.monotonic() < deadline and not signals.forced:
        time.sleep(0.02)
        reap()
    for pid in list(children):
        _kill(pid, signal.SIGKILL)
    while children:
        try:
            pid, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        children.pop(pid, None)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
