"""Minimal echo servers, one per kind: the floor each model's echo path is compared with.

* ``gevent``: a gevent ``StreamServer`` whose handler loops ``recv``/``sendall``;
* ``thread``: a thread per connection looping blocking ``recv``/``sendall``;
* ``fork``: a process per connection (``os.fork``) doing the same; children reaped by the kernel.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
from typing import Any

from clients.references.common import listen, parser, ready

RECV = 65536


def pump(sock: Any) -> None:
    """Echo until the peer closes."""
    try:
        while True:
            data = sock.recv(RECV)
            if not data:
                return
            sock.sendall(data)
    except OSError:
        return
    finally:
        sock.close()


def serve_gevent(sock: socket.socket, name: str) -> None:
    import gevent.server
    import gevent.socket

    gsock = gevent.socket.socket(sock.family, sock.type, fileno=sock.detach())
    server = gevent.server.StreamServer(gsock, lambda s, addr: pump(s))
    server.start()
    ready(gsock, "echo", name)  # type: ignore[arg-type]
    import gevent

    gevent.signal_handler(signal.SIGTERM, server.stop)
    server.serve_forever()


def serve_thread(sock: socket.socket, name: str) -> None:
    ready(sock, "echo", name)
    while True:
        conn, _ = sock.accept()
        threading.Thread(target=pump, args=(conn,), daemon=True).start()


def serve_fork(sock: socket.socket, name: str) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    ready(sock, "echo", name)
    while True:
        conn, _ = sock.accept()
        if os.fork() == 0:
            sock.close()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            pump(conn)
            os._exit(0)
        conn.close()


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--kind", choices=["gevent", "thread", "fork"], required=True)
    args = p.parse_args()
    sock = listen(args.host, args.port)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    {"gevent": serve_gevent, "thread": serve_thread, "fork": serve_fork}[args.kind](sock, args.name)


if __name__ == "__main__":
    main()
