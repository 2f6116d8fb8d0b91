"""The crawl itself, minus IO: the frontier, the scope and the statistics."""

from __future__ import annotations

import time

from clients.crawl.config import CrawlConfig
from clients.crawl.frontier import Frontier, Job
from clients.crawl.outcome import ERROR, NON_HTML, PAGE, REDIRECT, Outcome
from clients.crawl.stats import CrawlResult, CrawlStats, url_digest
from clients.crawl.urls import Scope


class Crawl:
    """Decides what to fetch next from what was fetched.

    A driver takes the root jobs from :meth:`start`, fetches each job, hands
    the :class:`Outcome` to :meth:`record` and queues the jobs it returns;
    when its queue is empty and nothing is in flight, the crawl is done.
    Not thread-safe: a threaded driver calls :meth:`record` under a lock.
    """

    def __init__(self, config: CrawlConfig, crawler: str = "") -> None:
        self.cpu_started = time.process_time()
        self.config = config
        self.crawler = crawler
        self.scope = Scope(config.url)
        self.frontier = Frontier(config.max_pages, config.max_depth)
        self.stats = CrawlStats()

    def start(self) -> list[Job]:
        job = self.frontier.admit(self.scope.root, 0, self.config.max_redirects)
        return [job] if job else []

    def record(self, job: Job, outcome: Outcome) -> list[Job]:
        """Count ``outcome`` of ``job``; return the new jobs it leads to."""
        stats = self.stats
        stats.requests += outcome.attempts
        stats.retries += outcome.attempts - 1
        stats.bytes += outcome.size
        if outcome.kind == PAGE:
            stats.pages.add(job.url)
            return self._admit_all(outcome.links, job.depth + 1, self.config.max_redirects)
        if outcome.kind == REDIRECT:
            assert outcome.location is not None
            if not self.scope.allows(outcome.location):
                stats.offsite += 1  # not followed
                return []
            if job.redirects_left <= 0:
                stats.errors["too_many_redirects"] += 1
                return []
            stats.redirects += 1
            return self._admit_all((outcome.location,), job.depth, job.redirects_left - 1)
        if outcome.kind == NON_HTML:
            stats.non_html += 1
        elif outcome.kind == ERROR:
            stats.errors[outcome.error or "unknown"] += 1
        return []

    def _admit_all(self, urls: tuple[str, ...], depth: int, redirects_left: int) -> list[Job]:
        jobs = []
        for url in urls:
            if not self.scope.allows(url):
                self.stats.offsite += 1
                continue
            job = self.frontier.admit(url, depth, redirects_left)
            if job is not None:
                jobs.append(job)
        return jobs

    def result(
        self, elapsed: float, peak_rss: int, interrupted: bool = False, other_cpu_s: float = 0.0
    ) -> CrawlResult:
        """The report, as every crawler gives it.

        Args:
            elapsed: wall seconds of the crawl.
            peak_rss: peak resident bytes of the crawler (its processes summed).
            interrupted: Ctrl-C cut the crawl short.
            other_cpu_s: CPU seconds of the crawler's other processes (workers);
                this process's own since the core was made are added here.
        """
        cpu = time.process_time() - self.cpu_started + other_cpu_s
        s = self.stats
        pages = len(s.pages)
        return CrawlResult(
            crawler=self.crawler,
            url=self.scope.root,
            concurrency=self.config.concurrency,
            pages=pages,
            requests=s.requests,
            retries=s.retries,
            redirects=s.redirects,
            non_html=s.non_html,
            offsite=s.offsite,
            dropped=self.frontier.dropped,
            bytes=s.bytes,
            errors=dict(sorted(s.errors.items())),
            elapsed_s=round(elapsed, 4),
            pages_per_s=round(pages / elapsed, 2) if elapsed > 0 else 0.0,
            cpu_s=round(cpu, 4),
            peak_rss_bytes=peak_rss,
            digest=url_digest(s.pages),
            interrupted=interrupted,
            urls=sorted(s.pages),
        )
