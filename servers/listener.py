"""Binding the listening socket and announcing readiness, the same way for every model."""

from __future__ import annotations

import errno
import logging
import os
import socket

log = logging.getLogger(__name__)

_ANY_HOSTS = {"0.0.0.0", "::", ""}


def bind_listener(host: str, port: int, backlog: int) -> socket.socket:
    """Return a TCP socket bound to ``host:port`` and listening with ``backlog``."""
    if host in _ANY_HOSTS:
        log.warning(
            "binding every interface (%r): this server is reachable from other machines", host
        )
    infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, type_, proto, _, address = infos[0]
    sock = socket.socket(family, type_, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    return sock


def bind_error(host: str, port: int, exc: OSError) -> str:
    """What went wrong binding ``host:port``, naming the flag to change (``--host`` or ``--port``).

    Three causes look alike in ``strerror`` but have different fixes: the port is
    taken (``address already in use``), the host is not an address of this machine
    (``cannot assign requested address``), the host name does not resolve.
    """
    where = f"cannot listen on {host}:{port}"
    if isinstance(exc, socket.gaierror):
        return (
            f"{where}: unknown host {host!r} ({exc.strerror or exc}): "
            "pick another --host (127.0.0.1, the default, is this machine)"
        )
    if exc.errno == errno.EADDRINUSE:
        return f"{where}: port {port} is already in use: pick another --port, or --port 0 for any free port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{where}: cannot assign requested address: {host} is not an address of this machine; "
            "pick another --host (127.0.0.1, the default)"
        )
    if exc.errno == errno.EACCES:
        return f"{where}: permission denied: ports below 1024 need privileges; pick another --port"
    return f"{where}: {exc.strerror or exc}"


def ready_line(sock: socket.socket, protocol: str, model: str) -> str:
    """The one line printed on stdout once the server accepts connections."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    scheme = "echo" if protocol == "echo" else "http"
    return f"listening on {scheme}://{host}:{port} model={model} pid={os.getpid()}"
