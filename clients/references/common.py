"""What every reference server shares: its flags, its listening socket, its ready line."""

from __future__ import annotations

import argparse
import os
import socket
import sys


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--protocol", choices=["http", "echo"], default="http")
    p.add_argument("--name", default="ref", help="the name in the ready line")
    return p


def listen(host: str, port: int, backlog: int = 1024) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def ready(sock: socket.socket, protocol: str, name: str) -> None:
    """Print the ``iomodels serve`` ready line for ``sock``."""
    host, port = sock.getsockname()[:2]
    scheme = "echo" if protocol == "echo" else "http"
    sys.stdout.write(f"listening on {scheme}://{host}:{port} model={name} pid={os.getpid()}\n")
    sys.stdout.flush()
