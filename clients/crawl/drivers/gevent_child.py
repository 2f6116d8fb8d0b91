"""Gevent, from the inside: N greenlets over monkey-patched sockets (run as ``-m``).

The workers are the blocking ones (``http.client``, ``time.sleep``); patched,
every wait yields to the hub. Greenlets switch only where they wait, so the
core needs no lock.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402 - after patching, on purpose
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from gevent.queue import JoinableQueue  # noqa: E402

from clients.crawl.blocking_http import BlockingClient  # noqa: E402
from clients.crawl.config import CrawlConfig  # noqa: E402
from clients.crawl.core import Crawl  # noqa: E402
from clients.crawl.stats import CrawlResult, own_peak_rss  # noqa: E402


def crawl(config: CrawlConfig) -> CrawlResult:
    """Crawl with ``config.concurrency`` greenlets, each owning one connection."""
    core = Crawl(config, "gevent")
    jobs = JoinableQueue()
    for job in core.start():
        jobs.put(job)

    def work() -> None:
        client = BlockingClient(config)
        try:
            while True:
                job = jobs.get()
                try:
                    for item in core.record(job, client.fetch(job)):
                        jobs.put(item)
                finally:
                    jobs.task_done()
        finally:
            client.close()

    started = time.perf_counter()
    workers = [gevent.spawn(work) for _ in range(config.concurrency)]
    # Ctrl-C (and any SIGINT the parent forwards) only sets an event: a KeyboardInterrupt
    # raised from a handler would land in whichever greenlet runs, not in join().
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGINT, stop.set)
    done = gevent.spawn(jobs.join)
    gevent.wait([done, stop], count=1)
    interrupted = not done.ready()
    done.kill()
    elapsed = time.perf_counter() - started
    gevent.killall(workers)
    return core.result(elapsed, own_peak_rss(), interrupted)


def main(argv: list[str]) -> int:
    config = CrawlConfig.from_json(json.loads(argv[1]))
    result = crawl(config)
    print(json.dumps(result.to_json(with_urls=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
