"""RESP, the Redis wire protocol: commands out, replies in, no IO.

:func:`command` encodes a command as RESP arrays of bulk strings.
:func:`make_reader` returns a sans-IO reader with hiredis's API (``feed(data)``,
then ``gets()`` returning a reply, or ``False`` while one is incomplete):
hiredis's own ``Reader`` (C) where it loads, else :class:`PureReader`. hiredis
cannot load in a subinterpreter (a single-phase-init extension), and importing
it in the free-threaded build turns the GIL back on, so those fall back to the
pure reader (``READER`` names the one in use).

Replies: a simple string or bulk string is ``bytes``, an integer ``int``, an
array a ``list``, a nil ``None``; an error reply is a :class:`ReplyError`
instance (returned, not raised, as hiredis does).
"""

from __future__ import annotations

import sys
from typing import Any


class ReplyError(Exception):
    """An error reply from the server (``-ERR ...``)."""


class ProtocolError(Exception):
    """Bytes that are not RESP."""


def command(*parts: bytes) -> bytes:
    """One command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out.append(b"$%d\r\n%s\r\n" % (len(part), part))
    return b"".join(out)


class PureReader:
    """The subset of RESP2 a key-value exchange needs, in Python, with hiredis's API."""

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    def gets(self) -> Any:
        """The next complete reply, or ``False`` if more bytes are needed."""
        parsed = self._parse(self._pos)
        if parsed is None:
            return False
        reply, self._pos = parsed
        if self._pos > 65536:
            del self._buf[: self._pos]
            self._pos = 0
        return reply

    def _line(self, pos: int) -> tuple[bytes, int] | None:
        end = self._buf.find(b"\r\n", pos)
        if end < 0:
            return None
        return bytes(self._buf[pos:end]), end + 2

    def _parse(self, pos: int) -> tuple[Any, int] | None:
        got = self._line(pos)
        if got is None:
            return None
        line, pos = got
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest, pos
        if kind == b"-":
            return ReplyError(rest.decode("utf-8", "replace")), pos
        if kind in (b":", b"$", b"*"):
            try:
                number = int(rest)
            except ValueError:
                raise ProtocolError(f"bad length or integer {rest!r}") from None
            if kind == b":":
                return number, pos
            if number < 0:
                return None, pos
            if kind == b"$":
                end = pos + number
                if len(self._buf) < end + 2:
                    return None
                if self._buf[end : end + 2] != b"\r\n":
                    raise ProtocolError("bulk string not ended by CRLF")
                return bytes(self._buf[pos:end]), end + 2
            items = []
            for _ in range(number):
                parsed = self._parse(pos)
                if parsed is None:
                    return None
                item, pos = parsed
                items.append(item)
            return items, pos
        raise ProtocolError(f"unknown reply type {kind!r}")


def _load_hiredis() -> Any:
    if getattr(sys, "_is_gil_enabled", lambda: True)() is False:
        return None  # free-threaded: importing hiredis would turn the GIL back on
    try:
        import hiredis
    except ImportError:  # not installed, or a subinterpreter
        return None
    return hiredis


_hiredis = _load_hiredis()
#: Which reader :func:`make_reader` returns here: ``"hiredis"`` or ``"pure"``.
READER = "pure" if _hiredis is None else "hiredis"


def make_reader() -> Any:
    """A fresh reader: hiredis's ``Reader`` where it loads, else :class:`PureReader`."""
    if _hiredis is None:
        return PureReader()
    return _hiredis.Reader(protocolError=ProtocolError, replyError=ReplyError)
