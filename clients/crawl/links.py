"""Link extraction with the standard library's HTML parser."""

from __future__ import annotations

from html.parser import HTMLParser

from clients.crawl.urls import normalise

#: elements whose ``href`` is a link a crawler follows
_LINK_TAGS = frozenset({"a", "area"})


class _HrefCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _LINK_TAGS or (tag == "base" and self.base is None):
            href = dict(attrs).get("href")
            if href is None:
                return
            if tag == "base":
                self.base = href
            else:
                self.hrefs.append(href)

    handle_startendtag = handle_starttag


def extract_links(html: str, page_url: str) -> list[str]:
    """Every crawlable link of a page, normalised and absolute, first occurrence first.

    Honours ``<base href>``; drops what :func:`~clients.crawl.urls.normalise`
    rejects (``mailto:``, ``javascript:``, bad URLs).
    """
    parser = _HrefCollector()
    parser.feed(html)
    parser.close()
    base = normalise(parser.base, page_url) if parser.base else None
    seen: dict[str, None] = {}
    for href in parser.hrefs:
        url = normalise(href, base or page_url)
        if url is not None:
            seen.setdefault(url, None)
    return list(seen)
