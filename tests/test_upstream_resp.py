"""RESP and the exchange without sockets: the pure reader agrees with hiredis, whole or split."""

from __future__ import annotations

import hiredis
import pytest
from hypothesis import given
from hypothesis import strategies as st

from servers.protocol import resp
from servers.protocol.effects import Query
from servers.protocol.upstream import Exchange, UpstreamConfig, UpstreamError, keys_for, value

REPLIES = [
    b"+OK\r\n",
    b"-ERR wrong type\r\n",
    b":42\r\n",
    b":-7\r\n",
    b"$5\r\nhello\r\n",
    b"$0\r\n\r\n",
    b"$-1\r\n",
    b"*2\r\n$1\r\na\r\n:1\r\n",
    b"*-1\r\n",
    b"*0\r\n",
    b"$4\r\na\r\nb\r\n",  # a bulk string may hold CRLF
]


def read_all(reader: object, data: bytes, step: int) -> list[object]:
    replies = []
    for start in range(0, len(data), step):
        reader.feed(data[start : start + step])  # type: ignore[attr-defined]
        while (reply := reader.gets()) is not False:  # type: ignore[attr-defined]
            replies.append(reply)
    return replies


def comparable(reply: object) -> object:
    if isinstance(reply, Exception):
        return ("error", str(reply))
    if isinstance(reply, list):
        return [comparable(item) for item in reply]
    return reply


@pytest.mark.parametrize("step", [1, 2, 1000])
def test_pure_reader_agrees_with_hiredis(step: int) -> None:
    data = b"".join(REPLIES)
    pure = read_all(resp.PureReader(), data, step)
    native = read_all(hiredis.Reader(replyError=resp.ReplyError), data, step)
    assert [comparable(r) for r in pure] == [comparable(r) for r in native]
    assert len(pure) == len(REPLIES)


@given(st.lists(st.sampled_from(REPLIES), max_size=8), st.integers(1, 20))
def test_any_split_gives_the_same_replies(replies: list[bytes], step: int) -> None:
    data = b"".join(replies)
    assert [comparable(r) for r in read_all(resp.PureReader(), data, step)] == [
        comparable(r) for r in read_all(resp.PureReader(), data, len(data) or 1)
    ]


@pytest.mark.parametrize("bad", [b"?what\r\n", b":x\r\n", b"*1\r\n?x\r\n"])
def test_bytes_that_are_not_resp_raise(bad: bytes) -> None:
    for reader in (resp.PureReader(), resp.make_reader()):
        reader.feed(bad)
        with pytest.raises(resp.ProtocolError):
            reader.gets()


class Counts:
    def __init__(self) -> None:
        self.round_trips = 0

    def upstream_opened(self) -> None: ...

    def upstream_closed(self) -> None: ...

    def round_trip_done(self) -> None:
        self.round_trips += 1


def query(n: int, start: int = 0) -> Query:
    return Query(
        keys_for(start, n),
        UpstreamConfig("redis://127.0.0.1:6379"),
        Counts(),
        respond=lambda values: b"|".join(values),
        fail=lambda error: b"%d" % error.status,
    )


def bulk(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def test_an_exchange_asks_each_key_and_checks_each_reply() -> None:
    exchange = Exchange(query(2, start=999))
    assert exchange.request() == resp.command(b"GET", b"item:999")
    reply = bulk(value(999))
    assert not exchange.receive_data(reply[:3])
    assert exchange.receive_data(reply[3:])
    assert exchange.request() == resp.command(b"GET", b"item:0")
    assert exchange.receive_data(bulk(value(0))) and exchange.done
    assert exchange.response() == value(999) + b"|" + value(0)
    assert exchange.query.counters.round_trips == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "reply",
    [bulk(value(1)), b"$-1\r\n", b"-ERR no\r\n", b":1\r\n", bulk(value(0)) + b"+OK\r\n", b"!\r\n"],
)
def test_a_reply_not_asked_for_is_a_502(reply: bytes) -> None:
    exchange = Exchange(query(1))
    with pytest.raises(UpstreamError) as caught:
        exchange.receive_data(reply)
    assert caught.value.status == 502 and caught.value.discard


def test_eof_is_a_502() -> None:
    with pytest.raises(UpstreamError, match="closed"):
        Exchange(query(1)).receive_data(b"")


@pytest.mark.parametrize("url", ["redis://h", "http://h:1", "redis://:1", "redis://h:0", "unix://"])
def test_a_bad_upstream_url_is_named(url: str) -> None:
    from servers.protocol.upstream import parse_url

    with pytest.raises(ValueError, match="is not redis://host:port"):
        parse_url(url)
