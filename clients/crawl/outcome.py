"""What a response (or a failure) means for the crawl: pure, runs wherever the fetch ran."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from clients.crawl.links import extract_links
from clients.crawl.urls import normalise

PAGE = "page"  # an HTML page: its links go to the frontier
REDIRECT = "redirect"  # a 3xx with a Location: the target goes to the frontier
NON_HTML = "non_html"  # a 2xx that is not HTML: skipped
ERROR = "error"  # an HTTP error status, or a failure (timeout, connection...)

#: failure kinds (the HTTP ones are ``http_<status>``)
TIMEOUT = "timeout"
CONNECTION = "connection"
PROTOCOL = "protocol"
TOO_LARGE = "too_large"

_HTML_TYPES = ("text/html", "application/xhtml+xml")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(Exception):
    """A request failed below HTTP; ``kind`` is one of the failure kinds above."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Response:
    """A complete HTTP response, as any driver's client hands it over."""

    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class Outcome:
    """The meaning of one fetch; small and picklable (it crosses process boundaries)."""

    url: str
    kind: str
    status: int | None = None
    error: str | None = None  # the error kind, for ERROR
    links: tuple[str, ...] = ()
    location: str | None = None
    retry_after: float | None = None
    size: int = 0
    attempts: int = 1
    extra: dict[str, int] = field(default_factory=dict)  # driver facts (a worker's RSS...)

    def with_attempts(self, attempts: int) -> Outcome:
        return replace(self, attempts=attempts)


def classify(url: str, response: Response) -> Outcome:
    """Turn a response to ``url`` into an :class:`Outcome` (parsing the links of HTML pages)."""
    status, headers = response.status, response.headers
    size = len(response.body)
    if status in _REDIRECTS:
        location = normalise(headers.get("location", ""), url)
        if location is None:
            return Outcome(url, ERROR, status, error="bad_redirect", size=size)
        return Outcome(url, REDIRECT, status, location=location, size=size)
    if status >= 300 or status < 200:
        retry_after = _seconds(headers.get("retry-after"))
        return Outcome(
            url, ERROR, status, error=f"http_{status}", retry_after=retry_after, size=size
        )
    media_type, charset = _content_type(headers.get("content-type", ""))
    if media_type not in _HTML_TYPES:
        return Outcome(url, NON_HTML, status, size=size)
    html = response.body.decode(charset, errors="replace")
    return Outcome(url, PAGE, status, links=tuple(extract_links(html, url)), size=size)


def failure(url: str, exc: FetchError) -> Outcome:
    """The outcome of a request that got no complete response."""
    return Outcome(url, ERROR, error=exc.kind)


def _content_type(value: str) -> tuple[str, str]:
    """The media type and the charset (default utf-8) of a Content-Type value."""
    media_type, *params = value.split(";")
    charset = "utf-8"
    for param in params:
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset" and param_value.strip().strip('"'):
            charset = param_value.strip().strip('"').lower()
    try:
        "".encode(charset)
    except LookupError:
        charset = "utf-8"
    return media_type.strip().lower() or "application/octet-stream", charset


def _seconds(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None  # the HTTP-date form is not worth honouring for a crawler
    return float(value.strip())
