"""``ref-bare``: the least a Python server can do per request, on uvloop (or the stdlib loop).

HTTP: counts request ends (``\\r\\n\\r\\n``) and writes one canned response per request,
parsing nothing: the ceiling for any Python HTTP server on this machine.
Echo: writes back what it reads (the minimal asyncio Protocol echo server).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from clients.references.common import listen, ready, run_on_loop

RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: ref-bare\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 13\r\n\r\nHello, World!"
)


class BareHttp(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        chunk = self.tail + data
        count = chunk.count(b"\r\n\r\n")
        self.tail = chunk[-3:]
        if count:
            self.transport.write(RESPONSE * count)
            if b"Connection: close" in data:
                self.transport.close()


class BareEcho(asyncio.Protocol):
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


async def serve(args: Any) -> None:
    loop = asyncio.get_running_loop()
    sock = listen(args.host, args.port)
    protocol = BareEcho if args.protocol == "echo" else BareHttp
    server = await loop.create_server(protocol, sock=sock)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    ready(sock, args.protocol, args.name)
    await stop.wait()
    server.close()


def main() -> None:
    run_on_loop(serve, __doc__ or "")


if __name__ == "__main__":
    main()
