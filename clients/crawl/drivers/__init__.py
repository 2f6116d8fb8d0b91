"""One module per concurrency model; each exposes ``crawl(config) -> CrawlResult``.

They share the core and the shape (a queue of jobs, N workers that take a job,
fetch it, hand the outcome to the core and queue what it returns, then
``task_done``; the crawl ``join``s the queue) and differ only where the model does.
"""
