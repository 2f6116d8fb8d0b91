"""The frontier: every URL admitted once, within the page and depth limits."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Job:
    """One URL to fetch: how deep it is and how many redirect hops it may still take."""

    url: str
    depth: int = 0
    redirects_left: int = 5


class Frontier:
    """De-duplication and limits; the queue itself belongs to the driver (its model's kind).

    Not thread-safe: the threaded driver calls it under its lock.
    """

    def __init__(self, max_pages: int = 0, max_depth: int | None = None) -> None:
        self.max_pages = max_pages
        self.max_depth = max_depth
        self.seen: set[str] = set()
        self.dropped = 0  # new URLs left out by a limit

    def admit(self, url: str, depth: int, redirects_left: int) -> Job | None:
        """A job for ``url`` if it is new and within the limits, else None."""
        if url in self.seen:
            return None
        if (self.max_depth is not None and depth > self.max_depth) or (
            self.max_pages and len(self.seen) >= self.max_pages
        ):
            self.dropped += 1
            return None
        self.seen.add(url)
        return Job(url, depth, redirects_left)
