"""N asyncio tasks share an ``asyncio.Queue``; aiohttp keeps at most N connections."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import aiohttp

from clients.crawl.config import CrawlConfig
from clients.crawl.core import Crawl
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
from clients.crawl.stats import CrawlResult, own_peak_rss

_STALE = (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError)


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl with ``config.concurrency`` tasks on one event loop."""
    core = Crawl(config, "asyncio")
    started = time.perf_counter()
    interrupted = False
    try:
        asyncio.run(crawl_into(core, config))
    except KeyboardInterrupt:  # asyncio.run cancelled crawl_into, which cleaned up
        interrupted = True
    return core.result(time.perf_counter() - started, own_peak_rss(), interrupted)


async def crawl_into(core: Crawl, config: CrawlConfig) -> None:
    """Crawl on the running event loop (the stdlib one or uvloop), recording into ``core``."""
    jobs: asyncio.Queue[Job] = asyncio.Queue()
    for job in core.start():
        jobs.put_nowait(job)
    connector = aiohttp.TCPConnector(limit=config.concurrency, limit_per_host=config.concurrency)
    timeout = aiohttp.ClientTimeout(total=config.timeout)
    headers = {"User-Agent": config.user_agent, "Accept": "text/html,*/*;q=0.5"}
    tracing = aiohttp.TraceConfig()
    tracing.on_connection_reuseconn.append(_mark_reused)
    tracing.on_connection_create_start.append(_let_closes_finish)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers=headers, trace_configs=[tracing]
    ) as session:
        # aiohttp re-sends an idempotent request once whenever a connection drops, even a
        # fresh one; we re-send only on a stale reused one (see get), as every crawler does
        if hasattr(session, "_retry_connection"):
            session._retry_connection = False

        async def work() -> None:
            while True:
                job = await jobs.get()
                try:
                    for item in core.record(job, await fetch(session, config, job)):
                        jobs.put_nowait(item)
                finally:
                    jobs.task_done()

        workers = [asyncio.create_task(work()) for _ in range(config.concurrency)]
        try:
            await jobs.join()
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)


async def fetch(session: aiohttp.ClientSession, config: CrawlConfig, job: Job) -> Outcome:
    """Fetch ``job`` with retries and backoff; never raises for a network problem."""
    attempt = 0
    while True:
        attempt += 1
        try:
            outcome = classify(job.url, await get(session, config, job.url))
        except FetchError as exc:
            outcome = failure(job.url, exc)
        delay = retry_delay(config, attempt, outcome)
        if delay is None:
            return outcome.with_attempts(attempt)
        await asyncio.sleep(delay)


class _Attempt:
    reused = False  # set by the trace hook when the pool hands over a used connection


async def _mark_reused(session: object, context: SimpleNamespace, params: object) -> None:
    context.trace_request_ctx.reused = True


async def _let_closes_finish(session: object, context: SimpleNamespace, params: object) -> None:
    """Before a new connection: one turn of the loop, for the closes already under way.

    The pool frees the place of a connection it closes at once, but the loop
    closes its socket on its next turn: connecting first would make N + 1 open.
    """
    await asyncio.sleep(0)


async def get(session: aiohttp.ClientSession, config: CrawlConfig, url: str) -> Response:
    """One GET; a pooled connection the server had closed is replaced, not counted as a retry."""
    for _ in range(config.concurrency):
        attempt = _Attempt()
        try:
            return await _get(session, config, url, attempt)
        except FetchError as exc:
            if not (attempt.reused and isinstance(exc.__context__, _STALE)):
                raise
    return await _get(session, config, url, _Attempt())


async def _get(
    session: aiohttp.ClientSession, config: CrawlConfig, url: str, attempt: _Attempt
) -> Response:
    """One GET on whatever connection the pool gives, redirects not followed (the core decides)."""
    try:
        async with session.get(url, allow_redirects=False, trace_request_ctx=attempt) as resp:
            if (resp.content_length or 0) > config.max_body:
                raise FetchError(TOO_LARGE, f"body of {resp.content_length} bytes")
            body = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > config.max_body:
                    raise FetchError(TOO_LARGE, f"body over {config.max_body} bytes")
            headers = {name.lower(): value for name, value in resp.headers.items()}
            return Response(resp.status, headers, bytes(body))
    except TimeoutError as exc:
        raise FetchError(TIMEOUT, repr(exc)) from None
    except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError) as exc:
        raise FetchError(PROTOCOL, repr(exc)) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise FetchError(CONNECTION, repr(exc)) from None
