"""N coroutines made of plain generators over ``selectors``: no asyncio, no library.

The 500 Lines crawler's "coroutines through generators": the event loop,
futures and tasks are :mod:`handloop` (the loop the ``reactor`` and
``generators`` servers run on), the HTTP reading :mod:`clients.crawl.http1`;
here are the sockets and the workers.
"""

from __future__ import annotations

import errno
import socket
import time

from clients.crawl.config import CrawlConfig
from clients.crawl.core import Crawl
from clients.crawl.frontier import Job
from clients.crawl.http1 import RequestEncoder, ResponseReader
from clients.crawl.outcome import CONNECTION, TIMEOUT, FetchError, classify, failure
from clients.crawl.policy import retry_delay
from clients.crawl.stats import CrawlResult, own_peak_rss
from handloop import (
    Coroutine,
    Loop,
    Queue,
    Request,
    Task,
    readable,
    run_until_complete,
    sleep,
    writable,
)


class _Stale(Exception):
    """A reused connection turned out closed before any byte of the response."""


def ready(request: Request) -> Coroutine:
    """``yield from ready(readable(sock, deadline))``: wait, or raise TimeoutError at the deadline."""
    if not (yield request):
        raise TimeoutError("request timed out")


class Connection:
    """One worker's keep-alive connection, driven by generator coroutines."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        self.requests = RequestEncoder(config)
        self.sock: socket.socket | None = None

    def get(self, url: str) -> Coroutine:
        """One GET within the timeout; returns a Response or raises FetchError."""
        deadline = time.monotonic() + self.config.timeout
        try:
            if self.sock is not None:
                try:
                    return (yield from self._exchange(url, deadline))
                except _Stale:
                    self.close()  # the server closed it while idle: one fresh try
            yield from self._connect(deadline)
            try:
                return (yield from self._exchange(url, deadline))
            except _Stale:
                raise FetchError(CONNECTION, "connection closed before the response") from None
        except TimeoutError:
            self.close()
            raise FetchError(TIMEOUT, "request timed out") from None
        except OSError as exc:
            self.close()
            raise FetchError(CONNECTION, repr(exc)) from None
        except FetchError:
            self.close()
            raise

    def _connect(self, deadline: float) -> Coroutine:
        family, kind, proto, _, address = socket.getaddrinfo(
            self.requests.host, self.requests.port, type=socket.SOCK_STREAM
        )[0]
        sock = self.sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        err = sock.connect_ex(address)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, errno.errorcode.get(err, "connect failed"))
        yield from ready(writable(sock, deadline))
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, errno.errorcode.get(err, "connect failed"))

    def _exchange(self, url: str, deadline: float) -> Coroutine:
        sock = self.sock
        assert sock is not None
        data = self.requests.get(url)
        reader = ResponseReader(self.config.max_body)
        received = False
        try:
            while data:
                try:
                    data = data[sock.send(data) :]
                except BlockingIOError:
                    yield from ready(writable(sock, deadline))
            while True:
                yield from ready(readable(sock, deadline))
                try:
                    chunk = sock.recv(64 * 1024)
                except BlockingIOError:
                    continue
                if not chunk and not received:
                    raise _Stale()
                received = True
                response = reader.feed(chunk)
                if response is not None:
                    break
        except (ConnectionResetError, BrokenPipeError) as exc:
            if received:
                raise
            raise _Stale() from exc
        if not reader.keep_alive:
            self.close()
        return response

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def fetch(conn: Connection, config: CrawlConfig, job: Job) -> Coroutine:
    """Fetch ``job`` with retries and backoff; returns an Outcome."""
    attempt = 0
    while True:
        attempt += 1
        try:
            outcome = classify(job.url, (yield from conn.get(job.url)))
        except FetchError as exc:
            outcome = failure(job.url, exc)
        delay = retry_delay(config, attempt, outcome)
        if delay is None:
            return outcome.with_attempts(attempt)
        yield sleep(delay)


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl with ``config.concurrency`` generator coroutines on one hand-made loop."""
    core = Crawl(config, "generators")
    loop = Loop()
    jobs = Queue()
    for job in core.start():
        jobs.put_nowait(job)

    def work() -> Coroutine:
        conn = Connection(config)
        try:
            while True:
                job = yield from jobs.get()
                try:
                    for item in core.record(job, (yield from fetch(conn, config, job))):
                        jobs.put_nowait(item)
                finally:
                    jobs.task_done()
        finally:
            conn.close()

    started = time.perf_counter()
    workers = [Task(loop, work()) for _ in range(config.concurrency)]
    interrupted = False
    try:
        run_until_complete(loop, jobs.join())
    except KeyboardInterrupt:
        interrupted = True
    elapsed = time.perf_counter() - started
    for worker in workers:
        worker.cancel()
    run_until_complete(loop, _all_done(workers))
    loop.close()
    return core.result(elapsed, own_peak_rss(), interrupted)


def _all_done(tasks: list[Task]) -> Coroutine:
    for task in tasks:
        if not task.done:
            try:
                yield from task
            except Exception:  # noqa: BLE001 - cancelled: that is the point
                pass
