"""Hypothesis strategies that write HTTP/1.1 requests from the RFC grammar, production by production.

They are written from the RFC text (RFC 9112, RFC 9110, RFC 3986), not from
``servers.protocol.abnf``: a test that draws from them checks the parser
against the RFC, not against itself. Each strategy is named after its
production.
"""

from __future__ import annotations

import string

from hypothesis import strategies as st

ALPHA = string.ascii_letters.encode()
DIGIT = string.digits.encode()
HEXDIG = b"0123456789abcdefABCDEF"
#: tchar (RFC 9110 section 5.6.2)
TCHAR = b"!#$%&'*+-.^_`|~" + DIGIT + ALPHA
#: VCHAR (RFC 5234) and obs-text (RFC 9110 section 5.5)
VCHAR = bytes(range(0x21, 0x7F))
OBS_TEXT = bytes(range(0x80, 0x100))
#: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (RFC 9110 section 5.6.4)
QDTEXT = b"\t \x21" + bytes(range(0x23, 0x5C)) + bytes(range(0x5D, 0x7F)) + OBS_TEXT
#: what a quoted-pair may escape: HTAB / SP / VCHAR / obs-text
QUOTABLE = b"\t " + VCHAR + OBS_TEXT
#: unreserved and sub-delims (RFC 3986 section 2)
UNRESERVED = ALPHA + DIGIT + b"-._~"
SUB_DELIMS = b"!$&'()*+,;="
PCHAR_PLAIN = UNRESERVED + SUB_DELIMS + b":@"


def chars(alphabet: bytes, min_size: int = 0, max_size: int = 8) -> st.SearchStrategy[bytes]:
    """Strings of bytes drawn from ``alphabet``."""
    return st.lists(st.sampled_from(alphabet), min_size=min_size, max_size=max_size).map(bytes)


def one_of_bytes(*pieces: bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from(pieces)


#: token = 1*tchar
token = chars(TCHAR, 1)
#: OWS = *( SP / HTAB ); BWS likewise
ows = one_of_bytes(b"", b"", b" ", b"\t", b"  ", b" \t")
bws = ows
#: pct-encoded = "%" HEXDIG HEXDIG
pct_encoded = st.tuples(st.sampled_from(HEXDIG), st.sampled_from(HEXDIG)).map(
    lambda t: b"%" + bytes(t)
)
#: pchar = unreserved / pct-encoded / sub-delims / ":" / "@"
pchar = st.one_of(st.sampled_from(PCHAR_PLAIN).map(lambda c: bytes([c])), pct_encoded)


def joined(strategy: st.SearchStrategy[bytes], max_size: int = 6) -> st.SearchStrategy[bytes]:
    return st.lists(strategy, max_size=max_size).map(b"".join)


#: segment = *pchar; absolute-path = 1*( "/" segment )
absolute_path = st.lists(joined(pchar), min_size=1, max_size=4).map(
    lambda segments: b"".join(b"/" + s for s in segments)
)
#: query = *( pchar / "/" / "?" )
query = joined(st.one_of(pchar, one_of_bytes(b"/", b"?")))
#: origin-form = absolute-path [ "?" query ]
origin_form = st.tuples(absolute_path, st.none() | query).map(
    lambda t: t[0] if t[1] is None else t[0] + b"?" + t[1]
)
#: dec-octet and IPv4address
ipv4address = st.lists(st.integers(0, 255), min_size=4, max_size=4).map(
    lambda octets: b".".join(b"%d" % o for o in octets)
)
#: IPv6address, written out in full or with a "::" run (RFC 4291 text forms)
ipv6address = st.one_of(
    st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8).map(
        lambda groups: b":".join(b"%x" % g for g in groups)
    ),
    st.tuples(
        st.lists(st.integers(0, 0xFFFF), max_size=3), st.lists(st.integers(0, 0xFFFF), max_size=3)
    ).map(
        lambda t: b":".join(b"%x" % g for g in t[0]) + b"::" + b":".join(b"%X" % g for g in t[1])
    ),
    ipv4address.map(lambda v4: b"::ffff:" + v4),
)
#: reg-name = *( unreserved / pct-encoded / sub-delims ), here never empty
reg_name = st.lists(
    st.one_of(st.sampled_from(UNRESERVED + SUB_DELIMS).map(lambda c: bytes([c])), pct_encoded),
    min_size=1,
    max_size=10,
).map(b"".join)
#: host = IP-literal / IPv4address / reg-name
uri_host = st.one_of(reg_name, ipv4address, ipv6address.map(lambda a: b"[" + a + b"]"))
#: port = *DIGIT
port = chars(DIGIT, 0, 5)
#: authority-form = uri-host ":" port
authority_form = st.tuples(uri_host, port).map(lambda t: t[0] + b":" + t[1])
#: Host = uri-host [ ":" port ], the empty value included
host_value = st.one_of(
    st.just(b""), uri_host, st.tuples(uri_host, port).map(lambda t: t[0] + b":" + t[1])
)
#: absolute-form for http(s): scheme "://" host [ ":" port ] path-abempty [ "?" query ]
absolute_form = st.tuples(
    one_of_bytes(b"http", b"https", b"HTTP", b"Https"),
    uri_host,
    st.none() | port,
    st.just(b"") | absolute_path,
    st.none() | query,
).map(
    lambda t: (
        t[0]
        + b"://"
        + t[1]
        + (b"" if t[2] is None else b":" + t[2])
        + t[3]
        + (b"" if t[4] is None else b"?" + t[4])
    )
)
#: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
quoted_string = st.lists(
    st.one_of(
        st.sampled_from(QDTEXT).map(lambda c: bytes([c])),
        st.sampled_from(QUOTABLE).map(lambda c: b"\\" + bytes([c])),
    ),
    max_size=8,
).map(lambda parts: b'"' + b"".join(parts) + b'"')
#: field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
field_vchar = st.sampled_from(VCHAR + OBS_TEXT).map(lambda c: bytes([c]))
field_value = st.one_of(
    st.just(b""),
    field_vchar,
    st.tuples(
        field_vchar, joined(st.one_of(field_vchar, one_of_bytes(b" ", b"\t"))), field_vchar
    ).map(b"".join),
)


@st.composite
def chunk_ext(draw: st.DrawFn, bws_before_semicolon: bool = True) -> bytes:
    """chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )."""
    out = b""
    for i in range(draw(st.integers(0, 3))):
        before = draw(bws) if bws_before_semicolon or i else b""
        out += before + b";" + draw(bws) + draw(token)
        if draw(st.booleans()):
            out += draw(bws) + b"=" + draw(bws) + draw(st.one_of(token, quoted_string))
    return out


@st.composite
def chunk_line(draw: st.DrawFn, size: int, bws_before_semicolon: bool = True) -> bytes:
    """chunk-size [ chunk-ext ] for a chunk of ``size`` bytes (hex digits in any case, leading
    zeros allowed)."""
    digits = "".join(draw(st.sampled_from([c, c.upper()])) for c in f"{size:x}").encode()
    zeros = b"0" * draw(st.integers(0, 2))
    return zeros + digits + draw(chunk_ext(bws_before_semicolon))
