"""The grammar of an HTTP/1.1 request, one named production at a time.

Every regular expression the parser uses is built here from RFC productions,
each defined once as a ``bytes`` pattern source with the ABNF it stands for
next to it; :mod:`servers.protocol.http11` and :mod:`servers.protocol.head`
only compile and combine them. ``docs/http-grammar.md`` sets each line the
parser accepts beside the RFC text and lists where we are deliberately
narrower than the RFC.

Productions with capture groups say so: :data:`REQUEST_LINE`,
:data:`FIELD_LINE`, :data:`CHUNK_LINE` and what :func:`list_member` makes.
Everything else is non-capturing, so it can be embedded anywhere.

Sources: RFC 9112 (HTTP/1.1 messages), RFC 9110 (HTTP semantics), RFC 3986
(URI), RFC 5234 (core rules). Where the RFC writes a character class as an
alternation, the ``*_SET`` names hold the contents of the equivalent regex
character class.
"""

from __future__ import annotations

# -- core rules (RFC 5234 appendix B.1) ---------------------------------------------
#: DIGIT = %x30-39
DIGIT = rb"[0-9]"
#: HEXDIG = DIGIT / "A" / "B" / "C" / "D" / "E" / "F" (ABNF strings are case-insensitive)
HEXDIG = rb"[0-9A-Fa-f]"
#: CRLF = CR LF (RFC 9112 section 2.2: the only line ending a server accepts here)
CRLF = rb"\r\n"
#: SP = %x20, the single separator of the request line (RFC 9112 section 3)
SP = rb" "

# -- whitespace and tokens (RFC 9110 sections 5.6.2, 5.6.3) ---------------------------
#: OWS = *( SP / HTAB )
OWS = rb"[ \t]*"
#: BWS = OWS ("bad" whitespace: allowed only where the grammar names it)
BWS = OWS
#: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|"
#:         / "~" / DIGIT / ALPHA
TCHAR_SET = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
#: token = 1*tchar
TOKEN = rb"[" + TCHAR_SET + rb"]+"

# -- field values (RFC 9110 sections 5.5, 5.6.4) --------------------------------------
#: VCHAR = %x21-7E; obs-text = %x80-FF; field-vchar = VCHAR / obs-text
FIELD_VCHAR_SET = rb"\x21-\x7e\x80-\xff"
FIELD_VCHAR = rb"[" + FIELD_VCHAR_SET + rb"]"
#: field-content = field-vchar [ 1*( SP / HTAB / field-vchar ) field-vchar ]
FIELD_CONTENT = FIELD_VCHAR + rb"(?:[ \t" + FIELD_VCHAR_SET + rb"]*" + FIELD_VCHAR + rb")?"
#: field-value = *field-content (obs-fold is refused, RFC 9112 section 5.2)
FIELD_VALUE = rb"(?:" + FIELD_CONTENT + rb")?"
#: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
QDTEXT_SET = rb"\t \x21\x23-\x5b\x5d-\x7e\x80-\xff"
#: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
QUOTED_PAIR = rb"\\[\t \x21-\x7e\x80-\xff]"
#: quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
QUOTED_STRING = rb'"(?:[' + QDTEXT_SET + rb"]++|" + QUOTED_PAIR + rb')*+"'
#: parameter-value = ( token / quoted-string )
PARAMETER_VALUE = rb"(?:" + TOKEN + rb"|" + QUOTED_STRING + rb")"

# -- the URI pieces of a request target (RFC 3986 sections 2, 3.2, 3.3, 3.4) -----------
#: unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
UNRESERVED_SET = rb"A-Za-z0-9\-._~"
#: sub-delims = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
SUB_DELIMS_SET = rb"!$&'()*+,;="
#: pct-encoded = "%" HEXDIG HEXDIG
PCT_ENCODED = rb"%" + HEXDIG + HEXDIG
#: pchar = unreserved / pct-encoded / sub-delims / ":" / "@" (without pct-encoded)
PCHAR_SET = UNRESERVED_SET + SUB_DELIMS_SET + rb":@"
#: absolute-path = 1*( "/" segment ), segment = *pchar; the same strings as "/" *( pchar / "/" )
ABSOLUTE_PATH = rb"/(?:[" + PCHAR_SET + rb"/]++|" + PCT_ENCODED + rb")*+"
#: path-abempty = *( "/" segment )
PATH_ABEMPTY = rb"(?:" + ABSOLUTE_PATH + rb")?"
#: query = *( pchar / "/" / "?" )
QUERY = rb"(?:[" + PCHAR_SET + rb"/?]++|" + PCT_ENCODED + rb")*+"
#: dec-octet = DIGIT / %x31-39 DIGIT / "1" 2DIGIT / "2" %x30-34 DIGIT / "25" %x30-35
DEC_OCTET = rb"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
#: IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet
IPV4ADDRESS = DEC_OCTET + (rb"\." + DEC_OCTET) * 3
#: h16 = 1*4HEXDIG
H16 = HEXDIG + rb"{1,4}"
#: ls32 = ( h16 ":" h16 ) / IPv4address
LS32 = rb"(?:" + H16 + rb":" + H16 + rb"|" + IPV4ADDRESS + rb")"


def _h16_colon(count: str) -> bytes:
    return rb"(?:" + H16 + rb":)" + count.encode()


#: IPv6address: the nine forms of RFC 3986 section 3.2.2, "::" standing for a run of zeros
IPV6ADDRESS = (
    rb"(?:"
    + rb"|".join(
        [
            _h16_colon("{6}") + LS32,
            rb"::" + _h16_colon("{5}") + LS32,
            rb"(?:" + H16 + rb")?::" + _h16_colon("{4}") + LS32,
            rb"(?:" + _h16_colon("{0,1}") + H16 + rb")?::" + _h16_colon("{3}") + LS32,
            rb"(?:" + _h16_colon("{0,2}") + H16 + rb")?::" + _h16_colon("{2}") + LS32,
            rb"(?:" + _h16_colon("{0,3}") + H16 + rb")?::" + H16 + rb":" + LS32,
            rb"(?:" + _h16_colon("{0,4}") + H16 + rb")?::" + LS32,
            rb"(?:" + _h16_colon("{0,5}") + H16 + rb")?::" + H16,
            rb"(?:" + _h16_colon("{0,6}") + H16 + rb")?::",
        ]
    )
    + rb")"
)
#: IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
IPVFUTURE = rb"[vV]" + HEXDIG + rb"+\.[" + UNRESERVED_SET + SUB_DELIMS_SET + rb":]+"
#: IP-literal = "[" ( IPv6address / IPvFuture ) "]"
IP_LITERAL = rb"\[(?:" + IPV6ADDRESS + rb"|" + IPVFUTURE + rb")\]"
_REG_NAME_PIECE = rb"(?:[" + UNRESERVED_SET + SUB_DELIMS_SET + rb"]++|" + PCT_ENCODED + rb")"
#: reg-name = *( unreserved / pct-encoded / sub-delims )
REG_NAME = _REG_NAME_PIECE + rb"*+"
#: host = IP-literal / IPv4address / reg-name (every IPv4address is also a reg-name)
URI_HOST = rb"(?:" + IP_LITERAL + rb"|" + REG_NAME + rb")"
#: port = *DIGIT
PORT = DIGIT + rb"*"
#: the authority of an http(s) URI: host [ ":" port ], where the host must not be empty
#: (RFC 9110 section 4.2.1) and userinfo must not appear (RFC 9110 section 4.2.4)
HTTP_AUTHORITY = rb"(?:" + IP_LITERAL + rb"|" + _REG_NAME_PIECE + rb"++)(?::" + PORT + rb")?"

# -- the request line (RFC 9112 section 3) ---------------------------------------------
#: method = token
METHOD = TOKEN
#: origin-form = absolute-path [ "?" query ]
ORIGIN_FORM = ABSOLUTE_PATH + rb"(?:\?" + QUERY + rb")?"
#: the scheme of an http(s) URI and the "//" before its authority (schemes are case-insensitive)
HTTP_SCHEME = rb"[Hh][Tt][Tt][Pp][Ss]?://"
#: absolute-form = absolute-URI, narrowed to http(s) URIs without userinfo (RFC 9110
#: sections 4.2.1-4.2.4): ( "http" / "https" ) "://" authority path-abempty [ "?" query ]
ABSOLUTE_FORM = HTTP_SCHEME + HTTP_AUTHORITY + PATH_ABEMPTY + rb"(?:\?" + QUERY + rb")?"
#: authority-form = uri-host ":" port (CONNECT only)
AUTHORITY_FORM = URI_HOST + rb":" + PORT
#: asterisk-form = "*" (OPTIONS only)
ASTERISK_FORM = rb"\*"
#: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name = %s"HTTP" (case-sensitive)
HTTP_VERSION = rb"HTTP/(" + DIGIT + rb")\.(" + DIGIT + rb")"
#: request-target = origin-form / absolute-form / authority-form / asterisk-form, with three
#: groups: the whole target, then the path and the query of an origin-form (both None for
#: the other forms; the query None without a "?")
REQUEST_TARGET = (
    rb"((" + ABSOLUTE_PATH + rb")(?:\?(" + QUERY + rb"))?"
    rb"|" + ABSOLUTE_FORM + rb"|" + AUTHORITY_FORM + rb"|" + ASTERISK_FORM + rb")"
)
#: request-line = method SP request-target SP HTTP-version, with six groups: method, the
#: three of REQUEST_TARGET, then the version's major and minor digits. Which form a method
#: may use is checked afterwards (RFC 9112 sections 3.2.3, 3.2.4).
REQUEST_LINE = rb"(" + METHOD + rb")" + SP + REQUEST_TARGET + SP + HTTP_VERSION

# -- field lines (RFC 9112 section 5) --------------------------------------------------
#: field-name = token
FIELD_NAME = TOKEN


def _field_line(name: bytes, value: bytes) -> bytes:
    """field-line = field-name ":" OWS field-value OWS"""
    return name + rb":" + OWS + value + OWS


#: field-line, with two groups: name and value
FIELD_LINE = _field_line(rb"(" + FIELD_NAME + rb")", rb"(" + FIELD_VALUE + rb")")
#: field-line without groups, to be repeated (a group inside a repetition costs time)
FIELD_LINE_PLAIN = _field_line(FIELD_NAME, FIELD_VALUE)

# -- the values of the fields the core interprets (RFC 9110, RFC 9112) -----------------
#: Host = uri-host [ ":" port ] (RFC 9110 section 7.2)
HOST = URI_HOST + rb"(?::" + PORT + rb")?"
#: Content-Length = 1*DIGIT (RFC 9110 section 8.6)
CONTENT_LENGTH = DIGIT + rb"+"
#: transfer-parameter = token BWS "=" BWS ( token / quoted-string ) (RFC 9112 section 7)
TRANSFER_PARAMETER = TOKEN + BWS + rb"=" + BWS + PARAMETER_VALUE
#: transfer-coding = token *( OWS ";" OWS transfer-parameter )
TRANSFER_CODING = TOKEN + rb"(?:" + OWS + rb";" + OWS + TRANSFER_PARAMETER + rb")*"
#: connection-option = token (RFC 9110 section 7.6.1)
CONNECTION_OPTION = TOKEN
#: parameters = *( OWS ";" OWS [ parameter ] ), parameter = token "=" ( token / quoted-string )
PARAMETERS = rb"(?:" + OWS + rb";" + OWS + rb"(?:" + TOKEN + rb"=" + PARAMETER_VALUE + rb")?)*"
#: expectation = token [ "=" ( token / quoted-string ) parameters ] (RFC 9110 section 10.1.1)
EXPECTATION = TOKEN + rb"(?:=" + PARAMETER_VALUE + PARAMETERS + rb")?"


def list_member(element: bytes) -> bytes:
    """One step through a ``#element`` list (RFC 9110 section 5.6.1): ``OWS [element] OWS``
    then a comma or the end, with one group: the element (None when empty).

    A recipient must accept empty elements (section 5.6.1.2), so ``a, ,b,`` is the list
    ``a``, ``b``. Matched repeatedly from the start of a field value, it both checks the
    list and yields its elements.
    """
    return OWS + rb"(" + element + rb")?" + OWS + rb"(?:,|\Z)"


# -- chunked transfer coding (RFC 9112 section 7.1) ------------------------------------
#: chunk-size = 1*HEXDIG
CHUNK_SIZE = HEXDIG + rb"+"
#: chunk-ext-name = token
CHUNK_EXT_NAME = TOKEN
#: chunk-ext-val = token / quoted-string
CHUNK_EXT_VAL = PARAMETER_VALUE
#: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
CHUNK_EXT = (
    rb"(?:" + BWS + rb";" + BWS + CHUNK_EXT_NAME + rb"(?:" + BWS + rb"=" + BWS + CHUNK_EXT_VAL
) + rb")?)*"
#: the line before chunk data (or the last-chunk): chunk-size [ chunk-ext ], with one
#: group: the size. Whitespace is allowed only around the ";" and "=" of an extension.
CHUNK_LINE = rb"(" + CHUNK_SIZE + rb")" + CHUNK_EXT
