"""Crawlers: one crawl of one site, written once per concurrency model.

A pure core (``urls``, ``links``, ``frontier``, ``outcome``, ``policy``,
``stats``, ``core``) decides what to fetch and what a response means; each
driver in :mod:`clients.crawl.drivers` only moves bytes in its own model's
way. The registry imports a driver lazily: gevent must never be imported
outside the process it patches.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: crawler name -> (driver module, one-line summary)
CRAWLERS: dict[str, tuple[str, str]] = {
    "sequential": (
        "clients.crawl.drivers.sequential",
        "one request at a time (http.client): the baseline",
    ),
    "threads": ("clients.crawl.drivers.threads", "N worker threads, a queue.Queue"),
    "processes": (
        "clients.crawl.drivers.processes",
        "N worker processes fed by the parent's frontier",
    ),
    "gevent": (
        "clients.crawl.drivers.greenlets",
        "N greenlets, monkey-patched, in a process of its own",
    ),
    "asyncio": ("clients.crawl.drivers.aio", "N asyncio tasks over aiohttp, an asyncio.Queue"),
    "generators": (
        "clients.crawl.drivers.generators",
        "N plain-generator coroutines over selectors",
    ),
}


class UnknownCrawler(ValueError):
    """The name is not a registered crawler (the message lists them)."""


def crawler_names() -> list[str]:
    return list(CRAWLERS)


def load_crawler(name: str) -> ModuleType:
    """Import and return the driver module of crawler ``name`` (it exposes ``crawl(config)``)."""
    if name not in CRAWLERS:
        raise UnknownCrawler(f"unknown crawler {name!r}; choose one of: {', '.join(CRAWLERS)}")
    return importlib.import_module(CRAWLERS[name][0])
