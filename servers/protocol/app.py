"""The routes, written once for every model.

``App.handle(request, keep_alive, out)`` appends the actions answering one
request to ``out`` (response bytes, or effects followed by what to send after
them) and returns whether the connection stays open.

The methods the server knows are those some route serves (GET, HEAD and POST):
any other method is answered 501 and the connection closes, since the server
cannot tell what the client will send next (RFC 9110 sections 9.1, 15.6.2: not
implemented for any resource). A known method that a route does not serve is
answered 405 with ``Allow``; an unknown path 404; a bad query value 400. Those
three concern a well-formed request read to its end, so the connection stays
open (see :mod:`servers.protocol.errors`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol

from servers.protocol.config import CPU_N_MAX, HASH_KB_MAX, IO_MS_MAX, ServerConfig
from servers.protocol.cpu import cpu_work, hash_work
from servers.protocol.effects import CRASH, Action, Compute, Query, Wait
from servers.protocol.errors import ProtocolError, RequestError
from servers.protocol.http11 import Request
from servers.protocol.responses import JSON, date_line, error_response, render
from servers.protocol.site import Site
from servers.protocol.upstream import DB_N_MAX, KEYS, UpstreamError, keys_for

HELLO = b"Hello, World!"
CPU_N_DEFAULT = 10_000
HASH_KB_DEFAULT = 1024


class StatsSink(Protocol):
    """What the routes need from a model's counters (see ``servers.stats``)."""

    def request_done(self) -> None: ...

    def snapshot(self) -> dict[str, Any]: ...

    def upstream_opened(self) -> None: ...

    def upstream_closed(self) -> None: ...

    def round_trip_done(self) -> None: ...


Route = Callable[[Request, bool, list[Action]], bool]


class App:
    """The suite's routes; see the README for the list."""

    def __init__(self, config: ServerConfig, stats: StatsSink) -> None:
        self.config = config
        self.stats = stats
        self.site = Site(config.site_pages, config.site_latency_ms)
        self._routes: dict[bytes, tuple[tuple[bytes, ...], Route]] = {
            b"/": ((b"GET", b"HEAD"), self._hello),
            b"/echo": ((b"POST",), self._echo),
            b"/io": ((b"GET", b"HEAD"), self._io),
            b"/cpu": ((b"GET", b"HEAD"), self._cpu),
            b"/hash": ((b"GET", b"HEAD"), self._hash),
            b"/stats": ((b"GET", b"HEAD"), self._stats),
            b"/db": ((b"GET", b"HEAD"), self._db),
        }
        #: every path under /site/
        self._site_route: tuple[tuple[bytes, ...], Route] = ((b"GET", b"HEAD"), self._site)
        #: (the Date line, the hello response carrying it): one tuple, replaced whole, so a
        #: thread running beside another (free-threaded Python) never sends a half-made pair
        self._hello_cache: tuple[bytes, bytes] = (b"", b"")
        if config.allow_crash:
            self._routes[b"/crash"] = ((b"GET", b"POST"), self._crash)
        #: The methods this server implements: those some route serves.
        self.methods = frozenset(
            method
            for methods, _ in [*self._routes.values(), self._site_route]
            for method in methods
        )

    def handle(self, req: Request, keep_alive: bool, out: list[Action]) -> bool:
        """Answer one request; raises :class:`ProtocolError` for a method we do not implement."""
        self.stats.request_done()
        if req.method not in self.methods:
            raise ProtocolError(501, f"the {req.method.decode()} method is not implemented")
        try:
            entry = self._routes.get(req.path)
            if entry is None:
                if not req.path.startswith(b"/site/"):
                    raise RequestError(404, "no such route")
                entry = self._site_route
            methods, route = entry
            if req.method not in methods:
                allow = b"Allow: %s\r\n" % b", ".join(methods)
                raise RequestError(405, f"{req.method.decode()} not allowed here", allow)
            return route(req, keep_alive, out)
        except RequestError as exc:
            out.append(
                error_response(
                    exc,
                    keep_alive=keep_alive,
                    http10=req.version == b"1.0",
                    head=req.method == b"HEAD",
                )
            )
            return keep_alive

    # -- routes ----------------------------------------------------------------
    def _hello(self, req: Request, keep: bool, out: list[Action]) -> bool:
        if keep and req.method == b"GET" and req.version == b"1.1":
            # the benchmark's hot path: the same bytes all second long
            date = date_line()
            cached_date, response = self._hello_cache
            if date is not cached_date:
                response = render(200, HELLO)
                self._hello_cache = (date, response)
            out.append(response)
            return True
        out.append(
            render(
                200,
                HELLO,
                keep_alive=keep,
                http10=req.version == b"1.0",
                head=req.method == b"HEAD",
            )
        )
        return keep

    def _echo(self, req: Request, keep: bool, out: list[Action]) -> bool:
        out.append(
            render(
                200,
                req.body,
                b"application/octet-stream",
                keep_alive=keep,
                http10=req.version == b"1.0",
            )
        )
        return keep

    def _io(self, req: Request, keep: bool, out: list[Action]) -> bool:
        ms = int_param(req.query, b"ms", 0, 0, IO_MS_MAX)
        if ms:
            out.append(Wait(ms / 1000.0))
        body = b"waited %d ms\n" % ms
        out.append(
            render(
                200, body, keep_alive=keep, http10=req.version == b"1.0", head=req.method == b"HEAD"
            )
        )
        return keep

    def _cpu(self, req: Request, keep: bool, out: list[Action]) -> bool:
        n = int_param(req.query, b"n", CPU_N_DEFAULT, 0, CPU_N_MAX)
        http10 = req.version == b"1.0"
        head = req.method == b"HEAD"

        def respond(body: bytes) -> bytes:
            return render(200, body, keep_alive=keep, http10=http10, head=head)

        out.append(Compute(n, cpu_work, respond))
        return keep

    def _hash(self, req: Request, keep: bool, out: list[Action]) -> bool:
        kb = int_param(req.query, b"kb", HASH_KB_DEFAULT, 0, HASH_KB_MAX)
        http10 = req.version == b"1.0"
        head = req.method == b"HEAD"

        def respond(body: bytes) -> bytes:
            return render(200, body, keep_alive=keep, http10=http10, head=head)

        out.append(Compute(kb, hash_work, respond))
        return keep

    def _db(self, req: Request, keep: bool, out: list[Action]) -> bool:
        n = int_param(req.query, b"n", 1, 1, DB_N_MAX)
        start = int_param(req.query, b"key", 0, 0, KEYS - 1)
        upstream = self.config.upstream
        if upstream is None:
            raise RequestError(503, "no upstream: serve with --upstream redis://HOST:PORT")
        http10 = req.version == b"1.0"
        head = req.method == b"HEAD"

        def respond(values: list[bytes]) -> bytes:
            body = b"\n".join(values) + b"\n"
            return render(200, body, keep_alive=keep, http10=http10, head=head)

        def fail(error: UpstreamError) -> bytes:
            refusal = RequestError(error.status, error.reason)
            return error_response(refusal, keep_alive=keep, http10=http10, head=head)

        out.append(Query(keys_for(start, n), upstream, self.stats, respond, fail))
        return keep

    def _stats(self, req: Request, keep: bool, out: list[Action]) -> bool:
        body = json.dumps(self.stats.snapshot(), sort_keys=True).encode() + b"\n"
        out.append(
            render(
                200,
                body,
                JSON,
                keep_alive=keep,
                http10=req.version == b"1.0",
                head=req.method == b"HEAD",
            )
        )
        return keep

    def _crash(self, req: Request, keep: bool, out: list[Action]) -> bool:
        out.append(CRASH)
        return False

    def _site(self, req: Request, keep: bool, out: list[Action]) -> bool:
        page = self.site.lookup(req.path)
        head = req.method == b"HEAD"
        if page.status >= 400:
            raise RequestError(page.status, "no such page")
        if page.delay_s:
            out.append(Wait(page.delay_s))
        extra = b"Location: %s\r\n" % page.location if page.location else b""
        out.append(
            render(
                page.status,
                page.body,
                page.content_type,
                keep_alive=keep,
                http10=req.version == b"1.0",
                head=head,
                extra=extra,
            )
        )
        return keep


def int_param(query: bytes, name: bytes, default: int, low: int, high: int) -> int:
    """Read one integer query parameter strictly: digits only, once, within ``[low, high]``."""
    if not query:
        return default
    value = None
    for pair in query.split(b"&"):
        key, _, raw = pair.partition(b"=")
        if key == name:
            if value is not None:
                raise RequestError(400, f"query parameter {name.decode()} given twice")
            value = raw
    if value is None:
        return default
    if not value.isdigit() or len(value) > 10 or not low <= int(value) <= high:
        raise RequestError(
            400, f"query parameter {name.decode()} must be an integer from {low} to {high}"
        )
    return int(value)
