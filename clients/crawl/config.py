"""What one crawl is asked to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

USER_AGENT = "iomodels-crawler/0.1"
#: requests in flight at most, unless asked otherwise (``iomodels crawl`` and ``make crawl``)
CONCURRENCY = 10


@dataclass(frozen=True, slots=True)
class CrawlConfig:
    """The crawl's settings; plain data, so it crosses into worker processes as JSON.

    Attributes:
        url: the root URL; only URLs of its scheme, host and port are fetched.
        concurrency: requests (and connections) in flight at most.
        max_pages: URLs fetched at most (0: no limit); retries and redirect hops
            do not count twice, a redirect target is a URL of its own.
        max_depth: links followed from the root at most (None: no limit).
        timeout: seconds one request may take, connect to last byte.
        retries: extra attempts after a connection error, a timeout or a 5xx/408/429.
        backoff: seconds before the first retry; doubles each time, capped by ``backoff_max``.
        backoff_max: the longest wait between two attempts.
        max_redirects: redirect hops followed from one link.
        max_body: bytes read from one response at most (larger ones are errors).
    """

    url: str
    concurrency: int = CONCURRENCY
    max_pages: int = 0
    max_depth: int | None = None
    timeout: float = 10.0
    retries: int = 2
    backoff: float = 0.2
    backoff_max: float = 5.0
    max_redirects: int = 5
    max_body: int = 10 * 1024 * 1024
    user_agent: str = USER_AGENT

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.retries < 0 or self.max_pages < 0 or self.max_redirects < 0:
            raise ValueError("retries, max_pages and max_redirects cannot be negative")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CrawlConfig:
        return cls(**data)
