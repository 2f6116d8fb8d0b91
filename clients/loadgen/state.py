"""What every connection of one run shares: the phase, the counters and the latencies."""

from __future__ import annotations

from collections import Counter
from time import perf_counter_ns

from clients.loadgen.histogram import LatencyRecorder

WARMUP, MEASURE, DONE = range(3)

#: every error kind a run counts (``LoadResult.error_kinds``), one per event
ERROR_KINDS: dict[str, str] = {
    "status": "an answer with a status other than 2xx (still timed)",
    "connect": "a connection that could not be opened (refused, unreachable, timed out)",
    "unanswered": "a request sent on a connection the server then closed, never answered",
    "closed": "the server closed a connection: an idle keep-alive one, or mid-answer (echo, churn)",
    "framing": "an answer the client could not frame (no Content-Length)",
    "starved": "an open connection whose request went out before the window, unanswered at its end",
    "timeout": "a churn request with no whole answer within the connect timeout",
}


class RunState:
    """Counts only what completes while measuring; connections read ``phase`` to know when to stop."""

    __slots__ = (
        "phase",
        "recorder",
        "requests",
        "bytes_in",
        "bytes_out",
        "errors",
        "statuses",
        "retried",
    )

    def __init__(self) -> None:
        self.phase = WARMUP
        self.recorder = LatencyRecorder()
        self.requests = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.errors: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        #: requests an idle keep-alive close crossed, sent again on a new connection (no error)
        self.retried = 0

    def completed(self, started_ns: int, now_ns: int, ok: bool = True) -> None:
        """One request answered (``ok`` False for a non-2xx status, still timed)."""
        if self.phase == MEASURE:
            self.requests += 1
            self.recorder.record(now_ns - started_ns)
            if not ok:
                self.errors["status"] += 1

    def error(self, kind: str, count: int = 1) -> None:
        """A failure that produced no answer: one of :data:`ERROR_KINDS`."""
        if self.phase == MEASURE:
            self.errors[kind] += count

    def retry(self, count: int) -> None:
        """Requests lost to a reused connection's close before any byte of their answer."""
        if self.phase == MEASURE:
            self.retried += count

    @staticmethod
    def now() -> int:
        return perf_counter_ns()
