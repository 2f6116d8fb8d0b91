"""One look for every chart: each model keeps its colour and marker in the bench, the
Locust comparison and crawl-bench; references share one style (grey, dashed) and
differ by shade and marker.

The table is keyed by model name and already holds the models planned next, so
their first chart matches the rest; crawlers borrow the style of the model they
mirror (:data:`ALIASES`). A name in no table gets a colour and a marker derived
from its letters (CRC-32), the same in every run.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

REF_PREFIX = "ref-"


@dataclass(frozen=True, slots=True)
class Style:
    """How one name is drawn.

    Attributes:
        color: line, marker and bar colour.
        marker: matplotlib marker of lines and points.
        linestyle: matplotlib line style (references are dashed).
        reference: a yardstick rather than a model under test.
    """

    color: str
    marker: str
    linestyle: str = "-"
    reference: bool = False


def _ref(color: str, marker: str) -> Style:
    return Style(color, marker, "--", reference=True)


STYLES: dict[str, Style] = {
    # the models
    "fork": Style("#d62728", "v"),
    "thread": Style("#ff7f0e", "s"),
    "gevent": Style("#2ca02c", "^"),
    "asyncio": Style("#1f77b4", "o"),
    "uvloop": Style("#9467bd", "D"),
    "multiprocess": Style("#8c564b", "P"),
    "reactor": Style("#e377c2", "X"),
    "generators": Style("#17becf", "h"),
    "prefork": Style("#bcbd22", "p"),
    "threadpool": Style("#ffa600", "<"),
    "iouring": Style("#003f5c", ">"),
    "interpreters": Style("#2f9e8f", "*"),
    "threadloops": Style("#8c6d31", "d"),
    # the crawlers of their own: the baseline, and asyncio's loop without aiohttp (a lighter blue)
    "sequential": Style("#000000", "8"),
    "asyncio-streams": Style("#6baed6", "s"),
    # the references: grey and dashed, told apart by shade and marker
    "ref-bare": _ref("#404040", "s"),
    "ref-aiohttp": _ref("#808080", "^"),
    "ref-aiohttp-stdlib": _ref("#a8a8a8", "v"),
    "ref-nginx": _ref("#202020", "D"),
    "ref-echo-asyncio": _ref("#606060", "o"),
    "ref-echo-gevent": _ref("#989898", "P"),
    "ref-echo-thread": _ref("#505050", "X"),
    "ref-echo-fork": _ref("#b8b8b8", "h"),
    "scrapy": _ref("#707070", "*"),
}

#: names that are drawn as another: crawler -> the model it mirrors
ALIASES: dict[str, str] = {
    "threads": "thread",
    "processes": "multiprocess",
    "uvloop-streams": "uvloop",
}

_FALLBACK_COLORS = ("#7b4173", "#637939", "#843c39", "#3182bd", "#e6550d", "#31a354", "#756bb1")
_FALLBACK_GREYS = ("#353535", "#5a5a5a", "#7a7a7a", "#9a9a9a")
_FALLBACK_MARKERS = ("o", "s", "^", "v", "D", "P", "X", "h", "p", "*", "<", ">", "d", "8")


def style_for(name: str) -> Style:
    """The style of ``name``: from the table, through an alias, or derived from the name."""
    name = ALIASES.get(name, name)
    known = STYLES.get(name)
    if known is not None:
        return known
    code = zlib.crc32(name.encode())
    marker = _FALLBACK_MARKERS[code // 7 % len(_FALLBACK_MARKERS)]
    if name.startswith(REF_PREFIX):
        return _ref(_FALLBACK_GREYS[code % len(_FALLBACK_GREYS)], marker)
    return Style(_FALLBACK_COLORS[code % len(_FALLBACK_COLORS)], marker)


def is_reference(name: str) -> bool:
    """True for a reference (``ref-*``, or a yardstick the table names, such as Scrapy)."""
    return name.startswith(REF_PREFIX) or style_for(name).reference
