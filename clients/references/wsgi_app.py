"""The suite's routes as a plain WSGI app, for gunicorn's workers (``ref-gunicorn-*``).

What a user would deploy behind gunicorn: ``GET /``, ``POST /echo``, ``GET /io?ms=N``
(``time.sleep``, which gevent's worker makes cooperative) and ``GET /cpu?n=N`` (the
same pure-Python work as the models).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from servers.protocol.cpu import cpu_work

StartResponse = Callable[..., Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/" and method in ("GET", "HEAD"):
        return _answer(start_response, b"Hello, World!")
    if path == "/io" and method == "GET":
        ms = int(query.get("ms", ["0"])[0])
        time.sleep(ms / 1000)
        return _answer(start_response, b"waited %d ms\n" % ms)
    if path == "/cpu" and method == "GET":
        return _answer(start_response, cpu_work(int(query.get("n", ["10000"])[0])))
    if path == "/echo" and method == "POST":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        return _answer(start_response, body, "application/octet-stream")
    return _answer(start_response, b"Not Found\n", status="404 Not Found")


def _answer(
    start_response: StartResponse,
    body: bytes,
    content_type: str = "text/plain; charset=utf-8",
    status: str = "200 OK",
) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
