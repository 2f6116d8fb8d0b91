"""URL normalisation and the same-host scope: pure functions, no IO."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise(href: str, base: str = "") -> str | None:
    """The canonical absolute form of ``href`` seen on page ``base``, or None if not crawlable.

    Resolves relative references and dot segments, drops the fragment and the
    default port, lowercases scheme and host, gives an empty path ``/``. Only
    ``http`` and ``https`` URLs are crawlable (``mailto:``, ``javascript:``... are not).
    """
    href = href.strip()
    if not href:
        return None
    try:
        parts = urlsplit(urljoin(base, href) if base else href)
        port = parts.port
    except ValueError:  # a bad port or a bad IPv6 literal
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a normalised URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def request_target(url: str) -> str:
    """The path and query to put on the request line."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


class Scope:
    """Which URLs belong to the crawl: the root's scheme, host and port (and path prefix)."""

    def __init__(self, root: str, prefix: str | None = None) -> None:
        canonical = normalise(root)
        if canonical is None:
            raise ValueError(f"not an http(s) URL: {root!r}")
        self.root = canonical
        self.origin = origin(canonical)
        self.prefix = prefix if prefix is not None else "/"

    def allows(self, url: str) -> bool:
        """Whether a normalised URL is inside the scope."""
        return origin(url) == self.origin and urlsplit(url).path.startswith(self.prefix)
