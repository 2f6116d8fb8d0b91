"""The suite's routes as a plain ASGI app, for uvicorn (``ref-uvicorn``).

``GET /``, ``POST /echo``, ``GET /io?ms=N`` (``asyncio.sleep``) and ``GET /cpu?n=N``
(the same pure-Python work as the models), with no framework in between.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from servers.protocol.cpu import cpu_work

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    path, method = scope["path"], scope["method"]
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if path == "/" and method in ("GET", "HEAD"):
        await _answer(send, b"Hello, World!")
    elif path == "/io" and method == "GET":
        ms = int(query.get("ms", ["0"])[0])
        await asyncio.sleep(ms / 1000)
        await _answer(send, b"waited %d ms\n" % ms)
    elif path == "/cpu" and method == "GET":
        await _answer(send, cpu_work(int(query.get("n", ["10000"])[0])))
    elif path == "/echo" and method == "POST":
        await _answer(send, await _body(receive), b"application/octet-stream")
    else:
        await _answer(send, b"Not Found\n", status=404)


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(
    send: Send, body: bytes, content_type: bytes = b"text/plain; charset=utf-8", status: int = 200
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
