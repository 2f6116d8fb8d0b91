"""``ref-uvicorn``: uvicorn serving :mod:`clients.references.asgi_app`, httptools on uvloop.

The production event-loop server, one process. The socket is bound here (port 0
works) and handed to uvicorn; the ready line is printed once uvicorn has
started. uvicorn handles SIGTERM itself (graceful stop). Needs the
``references`` extra (``pip install -e '.[references]'``).
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from clients.references.asgi_app import app
from clients.references.common import listen, parser
from servers.listener import ready_line

#: Our models' defaults, so that only the implementation differs.
KEEPALIVE_S = 5
GRACEFUL_TIMEOUT_S = 10


class ReadyServer(uvicorn.Server):
    """A uvicorn server that prints the suite's ready line once it accepts."""

    def __init__(self, config: uvicorn.Config, line: str) -> None:
        super().__init__(config)
        self.line = line

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        sys.stdout.write(self.line + "\n")
        sys.stdout.flush()


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    sock = listen(args.host, args.port)
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_keep_alive=KEEPALIVE_S,
        timeout_graceful_shutdown=GRACEFUL_TIMEOUT_S,
    )
    ReadyServer(config, ready_line(sock, "http", args.name)).run(sockets=[sock])


if __name__ == "__main__":
    main()
