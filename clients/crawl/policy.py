"""Retries: which outcomes deserve another attempt, and after how long."""

from __future__ import annotations

from clients.crawl.config import CrawlConfig
from clients.crawl.outcome import CONNECTION, ERROR, PROTOCOL, TIMEOUT, Outcome

#: statuses worth another attempt: overload, gateway trouble, throttling
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
RETRY_FAILURES = frozenset({TIMEOUT, CONNECTION, PROTOCOL})


def retry_delay(config: CrawlConfig, attempt: int, outcome: Outcome) -> float | None:
    """Seconds to wait before attempt ``attempt + 1``, or None to keep ``outcome``.

    Exponential backoff (``backoff``, doubled each attempt, capped by
    ``backoff_max``); a ``Retry-After`` in seconds is honoured within the cap.
    """
    if outcome.kind != ERROR or attempt > config.retries:
        return None
    if outcome.status is None:
        if outcome.error not in RETRY_FAILURES:
            return None
    elif outcome.status not in RETRY_STATUSES:
        return None
    delay = config.backoff * 2 ** (attempt - 1)
    if outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    return min(delay, config.backoff_max)
