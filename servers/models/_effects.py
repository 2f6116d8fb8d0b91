"""Effects that every driver performs the same way."""

from __future__ import annotations

import os
import signal
import socket

from servers.protocol.responses import overload_response


def crash_now() -> None:
    """Die by SIGSEGV, as a segfault in a C extension would: no cleanup, no traceback.

    In a forked child or a multiprocess worker only that process dies; in a
    threaded or single-process server it is the whole server.
    """
    try:
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
    except ValueError:  # not the main thread (the thread model): SIGSEGV is SIG_DFL unless set
        pass
    os.kill(os.getpid(), signal.SIGSEGV)


def reject(sock: socket.socket, protocol: str) -> None:
    """Refuse a connection over the cap: 503 and close for HTTP, a plain close for echo.

    Best effort and non-blocking: the accept loop must never wait on a refused client.
    """
    try:
        sock.setblocking(False)
        if protocol == "http":
            try:
                sock.recv(65536)  # read what already came, so close() does not reset
            except OSError:
                pass
            sock.send(overload_response())
            sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    finally:
        sock.close()
