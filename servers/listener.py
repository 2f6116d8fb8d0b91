"""Binding the listening socket and announcing readiness, the same way for every model."""

from __future__ import annotations

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


def ready_line(sock: socket.socket, protocol: str, model: str) -> str:
    """The one line printed on stdout once the server accepts connections."""
    host, port = sock.getsockname()[:2]
    if ":" in host:
        host = f"[{host}]"
    scheme = "echo" if protocol == "echo" else "http"
    return f"listening on {scheme}://{host}:{port} model={model} pid={os.getpid()}"
