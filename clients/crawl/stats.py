"""The crawl's figures and its result: what every crawler reports the same way."""

from __future__ import annotations

import hashlib
import resource
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from clients.crawl.urls import request_target


def url_digest(urls: Iterable[str]) -> str:
    """A short digest of the sorted set of URLs, origin left out: equal digests, equal crawls.

    ``http://127.0.0.1:8000/site/3`` and ``/site/3`` count the same, so two crawls
    of the same site on different ports agree.
    """
    text = "\n".join(sorted({request_target(url) for url in urls}))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def own_peak_rss() -> int:
    """This process's peak resident set size in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@dataclass
class CrawlStats:
    """Counters the core updates as outcomes come in."""

    pages: set[str] = field(default_factory=set)
    requests: int = 0
    retries: int = 0
    redirects: int = 0
    non_html: int = 0
    offsite: int = 0
    bytes: int = 0
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class CrawlResult:
    """What ``iomodels crawl`` prints (as a table, or JSON)."""

    crawler: str
    url: str
    concurrency: int
    pages: int
    requests: int
    retries: int
    redirects: int
    non_html: int
    offsite: int
    dropped: int
    bytes: int
    errors: dict[str, int]
    elapsed_s: float
    pages_per_s: float
    cpu_s: float
    peak_rss_bytes: int
    digest: str
    interrupted: bool = False
    urls: list[str] = field(default_factory=list, repr=False)

    def to_json(self, with_urls: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_urls:
            del data["urls"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrawlResult:
        return cls(**data)
