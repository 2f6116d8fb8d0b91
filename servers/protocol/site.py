"""A deterministic synthetic web site under ``/site/`` for the crawlers.

Page ``i`` of ``pages`` links to a fixed set of other pages, so every page is
reachable from ``/site/``. Some links are placed, deterministically, to make a
crawler behave like a real one:

* ``/site/r/<j>``: a redirect (301) to page ``j``;
* ``/site/rr/<j>``: a chain of two redirects (301 to ``/site/r/<j>``, then to page ``j``);
* ``<j>#part`` and ``<j>``: a relative link with a fragment, a bare relative link
  (both resolve to ``/site/<j>``: a crawler must normalise them away);
* ``mailto:``: a link no crawler fetches;
* ``/site/missing/<i>``: a broken link (404);
* ``/site/files/<i>.bin``: a non-HTML resource (``application/octet-stream``);
* ``http://offsite.invalid/<i>``: a link to another host (never to be fetched);
* slow pages: every page whose number is 13 modulo 50 waits ten times the site latency.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from servers.protocol.responses import BINARY, HTML


@dataclass(frozen=True, slots=True)
class SitePage:
    """What the site answers for one path."""

    status: int
    body: bytes
    content_type: bytes = HTML
    location: bytes = b""  # for redirects
    delay_s: float = 0.0


def page_url(i: int) -> str:
    """The canonical path of page ``i`` (page 0 is the index, ``/site/``)."""
    return "/site/" if i == 0 else f"/site/{i}"


class Site:
    """The synthetic site: ``pages`` HTML pages, ``latency_ms`` wait per page."""

    def __init__(self, pages: int = 1000, latency_ms: int = 0) -> None:
        if pages < 1:
            raise ValueError("the site needs at least one page")
        self.pages = pages
        self.latency_s = latency_ms / 1000.0

    # -- structure ---------------------------------------------------------------
    def links(self, i: int) -> list[str]:
        """Every href on page ``i``, in page order."""
        n = self.pages
        targets = [i + 1, (i * 7 + 3) % n, (i * 31 + 11) % n, i // 2]
        hrefs = [page_url(j) for j in targets if j < n and j != i]
        if i % 20 == 5:
            hrefs.append(f"/site/r/{(i * 3 + 1) % n}")
        if i % 60 == 23:
            hrefs.append(f"/site/rr/{(i * 5 + 2) % n}")
        if i % 10 == 3 and (i * 11 + 5) % n:
            hrefs.append(f"{(i * 11 + 5) % n}#part")
        if i % 15 == 4 and (i * 13 + 6) % n:
            hrefs.append(f"{(i * 13 + 6) % n}")
        if i % 45 == 9:
            hrefs.append(f"mailto:webmaster@example.invalid?subject=page{i}")
        if i % 25 == 7:
            hrefs.append(f"/site/missing/{i}")
        if i % 30 == 11:
            hrefs.append(f"/site/files/{i}.bin")
        if i % 40 == 17:
            hrefs.append(f"http://offsite.invalid/{i}")
        return hrefs

    def is_slow(self, i: int) -> bool:
        return i % 50 == 13

    def reachable_pages(self) -> set[str]:
        """Paths of the HTML pages a correct crawler fetches from ``/site/`` (redirects resolved)."""
        seen = {0}
        queue = deque([0])
        while queue:
            i = queue.popleft()
            for href in self.links(i):
                j = self._page_number(href)
                if j is not None and j not in seen:
                    seen.add(j)
                    queue.append(j)
        return {page_url(i) for i in seen}

    def _page_number(self, href: str) -> int | None:
        href = href.partition("#")[0]
        if href.isdigit():  # relative to a page under /site/
            href = "/site/" + href
        if href == "/site/":
            return 0
        for prefix in ("/site/rr/", "/site/r/", "/site/"):
            if href.startswith(prefix):
                tail = href[len(prefix) :]
                if tail.isdigit() and int(tail) < self.pages:
                    return int(tail)
        return None

    # -- serving -----------------------------------------------------------------
    def lookup(self, path: bytes) -> SitePage:
        """Answer a path under ``/site/``."""
        tail = path[len(b"/site/") :]
        if not tail:
            return self._page(0)
        if tail.isdigit() and len(tail) < 10:
            i = int(tail)
            if i < self.pages and (i > 0 or tail == b"0"):
                return self._page(i)
        elif tail.startswith(b"r/") and tail[2:].isdigit() and len(tail) < 12:
            j = int(tail[2:])
            if j < self.pages:
                body = b"moved to %s\n" % page_url(j).encode()
                return SitePage(301, body, location=page_url(j).encode())
        elif tail.startswith(b"rr/") and tail[3:].isdigit() and len(tail) < 13:
            j = int(tail[3:])
            if j < self.pages:
                location = b"/site/r/%d" % j
                return SitePage(301, b"moved to %s\n" % location, location=location)
        elif tail.startswith(b"files/") and tail.endswith(b".bin") and tail[6:-4].isdigit():
            i = int(tail[6:-4])
            if i < self.pages and i % 30 == 11:
                return SitePage(200, bytes(range(256)) * 4, BINARY, delay_s=self.latency_s)
        return SitePage(404, b"no such page\n")

    def _page(self, i: int) -> SitePage:
        items = "".join(
            f'<li><a href="{href}">link {k}</a></li>\n' for k, href in enumerate(self.links(i))
        )
        filler = " ".join(f"word{(i * 13 + k) % 997}" for k in range(120))
        html = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
            f"<title>Page {i}</title></head>\n<body>\n<h1>Page {i}</h1>\n<p>{filler}</p>\n"
            f"<ul>\n{items}</ul>\n</body></html>\n"
        )
        delay = self.latency_s * (10 if self.is_slow(i) else 1)
        return SitePage(200, html.encode(), delay_s=delay)
