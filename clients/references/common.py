"""What every reference server shares: its flags, its listening socket, its ready line."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from servers.listener import bind_listener, ready_line


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--protocol", choices=["http", "echo"], default="http")
    p.add_argument("--name", default="ref", help="the name in the ready line")
    return p


def listen(host: str, port: int, backlog: int = 1024) -> socket.socket:
    return bind_listener(host, port, backlog)


def ready(sock: socket.socket, protocol: str, name: str) -> None:
    """Print the ``iomodels serve`` ready line for ``sock``."""
    sys.stdout.write(ready_line(sock, protocol, name) + "\n")
    sys.stdout.flush()


def run_on_loop(
    serve: Callable[[argparse.Namespace], Coroutine[Any, Any, None]], description: str
) -> None:
    """Parse the common flags plus ``--loop`` and run ``serve(args)`` on uvloop or the stdlib loop."""
    p = parser(description)
    p.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = p.parse_args()
    factory = None
    if args.loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args))
