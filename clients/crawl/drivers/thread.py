"""N worker threads share a ``queue.Queue``; the core is shared under a lock."""

from __future__ import annotations

import queue
import threading
import time

from clients.crawl.blocking_http import BlockingClient
from clients.crawl.config import CrawlConfig
from clients.crawl.core import Crawl
from clients.crawl.frontier import Job
from clients.crawl.stats import CrawlResult, own_peak_rss


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl with ``config.concurrency`` threads, each owning one connection."""
    core = Crawl(config, "thread")
    lock = threading.Lock()  # the GIL does not make the core's updates atomic
    jobs: queue.Queue[Job | None] = queue.Queue()
    for job in core.start():
        jobs.put(job)

    def work() -> None:
        client = BlockingClient(config)
        try:
            while (job := jobs.get()) is not None:
                try:
                    outcome = client.fetch(job)  # the GIL is released while waiting
                    with lock:
                        new = core.record(job, outcome)
                    for item in new:
                        jobs.put(item)
                finally:
                    jobs.task_done()
        finally:
            client.close()

    workers = [
        threading.Thread(target=work, name=f"crawl-{i}", daemon=True)
        for i in range(config.concurrency)
    ]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    interrupted = False
    try:
        jobs.join()
    except KeyboardInterrupt:
        interrupted = True
        with jobs.mutex:
            jobs.queue.clear()  # workers finish the request in hand, then meet the sentinel
    elapsed = time.perf_counter() - started
    for _ in workers:
        jobs.put(None)
    if not interrupted:
        for worker in workers:
            worker.join()
    with lock:
        return core.result(elapsed, own_peak_rss(), interrupted)
