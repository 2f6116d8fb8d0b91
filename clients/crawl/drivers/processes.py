"""A pool of N worker processes; the frontier stays in the parent, which feeds them.

What processes cost for IO-bound work: each worker is a whole interpreter
(memory, start-up) and every job and outcome is pickled across a pipe. The
workers come from a fork server (never forked from a parent that may have threads).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from clients.crawl.blocking_http import BlockingClient
from clients.crawl.config import CrawlConfig
from clients.crawl.core import Crawl
from clients.crawl.frontier import Job
from clients.crawl.outcome import Outcome
from clients.crawl.stats import CrawlResult, own_peak_rss

_client: BlockingClient | None = None  # one per worker process


def _start_worker(config: dict[str, Any]) -> None:
    global _client
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _client = BlockingClient(CrawlConfig.from_json(config))


def _fetch(job: Job) -> tuple[Outcome, int, int, float]:
    """In a worker: fetch and classify ``job``; also this worker's pid, peak RSS and CPU time so far."""
    assert _client is not None
    return _client.fetch(job), os.getpid(), own_peak_rss(), time.process_time()


def _context() -> multiprocessing.context.BaseContext:
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl with ``config.concurrency`` processes, each owning one connection."""
    core = Crawl(config, "processes")
    pending = deque(core.start())
    running: dict[Future[tuple[Outcome, int, int, float]], Job] = {}
    worker_rss: dict[int, int] = {}
    worker_cpu: dict[int, float] = {}
    started = time.perf_counter()
    interrupted = False
    pool = ProcessPoolExecutor(config.concurrency, _context(), _start_worker, (config.to_json(),))
    try:
        while pending or running:
            while pending and len(running) < config.concurrency:
                job = pending.popleft()
                running[pool.submit(_fetch, job)] = job
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                outcome, pid, rss, cpu = future.result()
                worker_rss[pid] = rss
                worker_cpu[pid] = cpu
                pending.extend(core.record(running.pop(future), outcome))
    except KeyboardInterrupt:
        interrupted = True
    elapsed = time.perf_counter() - started
    pool.shutdown(wait=True, cancel_futures=True)  # workers finish the request in hand
    rss = own_peak_rss() + sum(worker_rss.values())
    return core.result(elapsed, rss, interrupted, other_cpu_s=sum(worker_cpu.values()))
