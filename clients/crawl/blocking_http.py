"""One keep-alive connection over ``http.client``, for the crawlers that block.

Sequential, threads, processes and gevent all fetch through this: a worker
owns one :class:`BlockingClient`, so it never holds more than one connection.
Under gevent the same code is cooperative because its sockets are patched.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from clients.crawl.config import CrawlConfig
from clients.crawl.frontier import Job
from clients.crawl.outcome import (
    CONNECTION,
    PROTOCOL,
    TIMEOUT,
    TOO_LARGE,
    FetchError,
    Outcome,
    Response,
    classify,
    failure,
)
from clients.crawl.policy import retry_delay
from clients.crawl.urls import request_target

_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class BlockingClient:
    """GET URLs of one origin over a reused connection, within a total deadline each."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        parts = urlsplit(config.url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self.conn = cls(parts.hostname or "", parts.port, timeout=config.timeout)
        self.reused = False  # whether the open connection already served a response
        self.headers = {"User-Agent": config.user_agent, "Accept": "text/html,*/*;q=0.5"}

    def fetch(self, job: Job, sleep: Callable[[float], object] = time.sleep) -> Outcome:
        """Fetch ``job`` with retries and backoff; never raises for a network problem."""
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = classify(job.url, self.get(job.url))
            except FetchError as exc:
                outcome = failure(job.url, exc)
            delay = retry_delay(self.config, attempt, outcome)
            if delay is None:
                return outcome.with_attempts(attempt)
            sleep(delay)

    def get(self, url: str) -> Response:
        """One GET; a keep-alive connection the server closed meanwhile is reopened once."""
        deadline = time.monotonic() + self.config.timeout
        try:
            return self._get(url, deadline)
        except _STALE:
            if not self.reused:
                self.close()
                raise FetchError(CONNECTION, "connection closed before the response") from None
            self.close()  # the server had closed an idle connection: one fresh try
        try:
            return self._get(url, deadline)
        except _STALE as exc:
            self.close()
            raise FetchError(CONNECTION, str(exc)) from None

    def _get(self, url: str, deadline: float) -> Response:
        conn = self.conn
        try:
            conn.timeout = _remaining(deadline)
            conn.request("GET", request_target(url), headers=self.headers)
            sock = conn.sock
            sock.settimeout(_remaining(deadline))
            resp = conn.getresponse()
            sock.settimeout(_remaining(deadline))
            body = resp.read(self.config.max_body + 1)
            if len(body) > self.config.max_body or not resp.isclosed():
                self.close()
                raise FetchError(TOO_LARGE, f"body over {self.config.max_body} bytes")
            headers = {name.lower(): value for name, value in resp.getheaders()}
        except _STALE:
            raise
        except (TimeoutError, FetchError) as exc:
            self.close()
            if isinstance(exc, FetchError):
                raise
            raise FetchError(TIMEOUT, str(exc)) from None
        except (ConnectionError, http.client.IncompleteRead) as exc:
            self.close()
            raise FetchError(CONNECTION, repr(exc)) from None
        except http.client.HTTPException as exc:
            self.close()
            raise FetchError(PROTOCOL, repr(exc)) from None
        except OSError as exc:
            self.close()
            raise FetchError(CONNECTION, repr(exc)) from None
        self.reused = conn.sock is not None  # http.client drops a socket the server closes
        return Response(resp.status, headers, body)

    def close(self) -> None:
        self.conn.close()
        self.reused = False


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("request deadline passed")
    return left
