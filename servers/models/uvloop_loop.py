"""``uvloop``: the very same asyncio driver, on uvloop's libuv-based loop."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvloop

from servers.models._aio import run_server
from servers.models._fds import fd_cap
from servers.protocol.config import ServerConfig
from servers.stats import LocalStats

DEFAULT_MAX_CONNECTIONS = 20_000


def serve(listener: socket.socket, config: ServerConfig, on_ready: Callable[[], None]) -> None:
    stats = LocalStats("uvloop")
    run_server(
        listener,
        config,
        on_ready,
        stats,
        fd_cap(config.max_connections or DEFAULT_MAX_CONNECTIONS),
        loop_factory=uvloop.new_event_loop,
    )
