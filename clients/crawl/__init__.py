"""Crawlers: one crawl of one site, written once per concurrency model.

A pure core (``urls``, ``links``, ``frontier``, ``outcome``, ``policy``,
``stats``, ``core``) decides what to fetch and what a response means; each
driver in :mod:`clients.crawl.drivers` only moves bytes in its own model's
way. The registry imports a driver lazily: gevent must never be imported
outside the process it patches.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class CrawlerInfo:
    """A registered crawler: its driver, and the two things its speed is made of.

    Attributes:
        module: the driver module (it exposes ``crawl(config)``).
        summary: how N requests are in flight, in one line.
        loop: what runs the other workers while one waits: the kernel's
            scheduler, gevent's hub or an event loop (asyncio, uvloop, handloop).
        client: what writes the requests and reads the responses: a library
            (aiohttp, http.client) or the crawlers' own :mod:`clients.crawl.http1`
            over the model's IO (streams or sockets).
        needs: a package it cannot run without, when that one is optional (empty: none).
    """

    module: str
    summary: str
    loop: str
    client: str
    needs: str = ""


#: old crawler name -> its name now, so results written under the old name still read
RENAMED: dict[str, str] = {"threads": "thread"}


class _Registry(dict[str, CrawlerInfo]):
    """The crawlers by name; an old name (:data:`RENAMED`) finds its crawler, but is never listed."""

    def __contains__(self, name: object) -> bool:
        return super().__contains__(RENAMED.get(name, name) if isinstance(name, str) else name)

    def __getitem__(self, name: str) -> CrawlerInfo:
        return super().__getitem__(RENAMED.get(name, name))

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(RENAMED.get(name, name), default)


CRAWLERS: _Registry = _Registry(
    {
        "sequential": CrawlerInfo(
            "clients.crawl.drivers.sequential",
            "one request at a time (http.client): the baseline",
            "none",
            "http.client",
        ),
        "thread": CrawlerInfo(
            "clients.crawl.drivers.thread",
            "N worker threads, a queue.Queue",
            "the kernel (threads)",
            "http.client",
        ),
        "processes": CrawlerInfo(
            "clients.crawl.drivers.processes",
            "N worker processes fed by the parent's frontier",
            "the kernel (processes)",
            "http.client",
        ),
        "gevent": CrawlerInfo(
            "clients.crawl.drivers.greenlets",
            "N greenlets, monkey-patched, in a process of its own",
            "gevent's hub (libev)",
            "http.client, patched sockets",
            needs="gevent",
        ),
        "asyncio": CrawlerInfo(
            "clients.crawl.drivers.aio",
            "N asyncio tasks over aiohttp, an asyncio.Queue",
            "asyncio",
            "aiohttp",
        ),
        "asyncio-streams": CrawlerInfo(
            "clients.crawl.drivers.streams",
            "N asyncio tasks over asyncio streams and http1.py, no HTTP library",
            "asyncio",
            "streams + http1.py",
        ),
        "uvloop-streams": CrawlerInfo(
            "clients.crawl.drivers.uvloop_streams",
            "the asyncio-streams crawler on uvloop",
            "uvloop",
            "streams + http1.py",
        ),
        "generators": CrawlerInfo(
            "clients.crawl.drivers.generators",
            "N plain-generator coroutines over selectors",
            "handloop",
            "sockets + http1.py",
        ),
    }
)


def current_name(name: str) -> str:
    """A crawler's name now (``threads`` in an old results file is ``thread``)."""
    return RENAMED.get(name, name)


class UnknownCrawler(ValueError):
    """The name is not a registered crawler (the message lists them)."""


def crawler_names() -> list[str]:
    return list(CRAWLERS)


def load_crawler(name: str) -> ModuleType:
    """Import and return the driver module of crawler ``name`` (it exposes ``crawl(config)``)."""
    if name not in CRAWLERS:
        now = f" (now {RENAMED[name]!r})" if name in RENAMED else ""
        raise UnknownCrawler(f"unknown crawler {name!r}{now}; choose one of: {', '.join(CRAWLERS)}")
    needs = CRAWLERS[name].needs
    if needs and importlib.util.find_spec(needs) is None:
        raise UnknownCrawler(
            f"crawler {name!r} cannot run here: {needs} is not installed "
            "(the gil extra, which `make venv` installs except on a free-threaded Python)"
        )
    return importlib.import_module(CRAWLERS[name].module)
