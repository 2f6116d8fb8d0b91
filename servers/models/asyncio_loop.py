"""``asyncio``: every connection in one thread, on the stdlib event loop (the nginx model)."""

from __future__ import annotations

import socket
from collections.abc import Callable

from servers.models._aio import run_server
from servers.models._fds import CalmListener, fd_cap
from servers.protocol.config import ServerConfig
from servers.stats import LocalStats

DEFAULT_MAX_CONNECTIONS = 20_000


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    stats = LocalStats("asyncio")
    cap = fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS)
    run_server(CalmListener(listener), config, on_ready, stats, cap)
