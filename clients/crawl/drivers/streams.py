"""N asyncio tasks over asyncio streams (``asyncio.open_connection``), no HTTP library.

The asyncio crawler's shape (an ``asyncio.Queue``, N tasks) with the generators
crawler's HTTP (:mod:`clients.crawl.http1`: the same request bytes, the same
response reader). Against ``asyncio`` (aiohttp on the same loop) it measures the
library; against ``generators`` (the same HTTP on the hand-made loop) and on
uvloop (:mod:`clients.crawl.drivers.uvloop_streams`) it measures the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from clients.crawl.config import CrawlConfig
from clients.crawl.core import Crawl
from clients.crawl.frontier import Job
from clients.crawl.http1 import RequestEncoder, ResponseReader
from clients.crawl.outcome import (
    CONNECTION,
    TIMEOUT,
    FetchError,
    Outcome,
    Response,
    classify,
    failure,
)
from clients.crawl.policy import retry_delay
from clients.crawl.stats import CrawlResult, own_peak_rss

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class _Stale(Exception):
    """A reused connection turned out closed before any byte of the response."""


class Connection:
    """One task's keep-alive connection: a stream reader and writer, opened when needed."""

    def __init__(self, config: CrawlConfig) -> None:
        self.config = config
        self.requests = RequestEncoder(config)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, url: str) -> Response:
        """One GET within the timeout; returns the response or raises FetchError."""
        try:
            async with asyncio.timeout(self.config.timeout):
                if self.writer is not None:
                    try:
                        return await self._exchange(url)
                    except _Stale:
                        await self.close()  # the server closed it while idle: one fresh try
                await self._connect()
                try:
                    return await self._exchange(url)
                except _Stale:
                    raise FetchError(CONNECTION, "connection closed before the response") from None
        except TimeoutError:
            await self.close()
            raise FetchError(TIMEOUT, "request timed out") from None
        except OSError as exc:
            await self.close()
            raise FetchError(CONNECTION, repr(exc)) from None
        except FetchError:
            await self.close()
            raise

    async def _connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            self.requests.host, self.requests.port
        )

    async def _exchange(self, url: str) -> Response:
        reader, writer = self.reader, self.writer
        assert reader is not None and writer is not None
        response_reader = ResponseReader(self.config.max_body)
        received = False
        try:
            writer.write(self.requests.get(url))
            await writer.drain()
            while True:
                chunk = await reader.read(64 * 1024)
                if not chunk and not received:
                    raise _Stale()
                received = True
                response = response_reader.feed(chunk)
                if response is not None:
                    break
        except (ConnectionResetError, BrokenPipeError) as exc:
            if received:
                raise
            raise _Stale() from exc
        if not response_reader.keep_alive:
            await self.close()
        return response

    async def close(self) -> None:
        """Close the connection and wait until its socket is closed.

        Not waiting would let the next connection open before this one's socket
        is closed (``close()`` closes it on the loop's next turn): N + 1 open.
        """
        writer = self.writer
        if writer is None:
            return
        self.reader = self.writer = None
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def fetch(conn: Connection, config: CrawlConfig, job: Job) -> Outcome:
    """Fetch ``job`` with retries and backoff; never raises for a network problem."""
    attempt = 0
    while True:
        attempt += 1
        try:
            outcome = classify(job.url, await conn.get(job.url))
        except FetchError as exc:
            outcome = failure(job.url, exc)
        delay = retry_delay(config, attempt, outcome)
        if delay is None:
            return outcome.with_attempts(attempt)
        await asyncio.sleep(delay)


async def crawl_into(core: Crawl, config: CrawlConfig) -> None:
    """Crawl on the running event loop, recording into ``core``."""
    jobs: asyncio.Queue[Job] = asyncio.Queue()
    for job in core.start():
        jobs.put_nowait(job)

    async def work() -> None:
        conn = Connection(config)
        try:
            while True:
                job = await jobs.get()
                try:
                    for item in core.record(job, await fetch(conn, config, job)):
                        jobs.put_nowait(item)
                finally:
                    jobs.task_done()
        finally:
            await conn.close()

    workers = [asyncio.create_task(work()) for _ in range(config.concurrency)]
    try:
        await jobs.join()
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def crawl_on(config: CrawlConfig, name: str, loop_factory: LoopFactory | None) -> CrawlResult:
    """Crawl with ``config.concurrency`` tasks on a new loop made by ``loop_factory``."""
    core = Crawl(config, name)
    started = time.perf_counter()
    interrupted = False
    try:
        with asyncio.Runner(loop_factory=loop_factory) as runner:
            runner.run(crawl_into(core, config))
    except KeyboardInterrupt:  # the runner cancelled crawl_into, which cleaned up
        interrupted = True
    return core.result(time.perf_counter() - started, own_peak_rss(), interrupted)


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl on the stdlib event loop."""
    return crawl_on(config, "asyncio-streams", None)
