"""Threads share every variable: lost updates without ``threading.Lock``, measured.

Each thread adds 1 to a shared counter ``updates`` times as a read-modify-write
with a function call in between (the shape of real code: read a balance, compute,
write it back). CPython may switch threads at the call, so a thread can write
back a value that others have long moved past; with the lock none is lost.

CPython switches threads only every ``sys.getswitchinterval()`` (5 ms), so the
run must last many intervals: 4 x 200,000 updates take about 0.07 s here (a
dozen switches), and whether any update was lost was then a matter of luck
(0 in one run, 235,598 in the next); 4 x 1,000,000 take about 0.3 s and lost
between 1.6 and 2.4 million updates in each of six runs.

``python -m clients.bench.shared_state --out DIR`` writes ``DIR/shared_state.json``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import Any

from clients.bench.experiments import write


@dataclass
class CounterRun:
    threads: int
    updates: int  # per thread
    locked: bool
    counted: int
    seconds: float

    @property
    def expected(self) -> int:
        return self.threads * self.updates

    @property
    def lost(self) -> int:
        return self.expected - self.counted

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "expected": self.expected, "lost": self.lost}


class _Counter:
    def __init__(self) -> None:
        self.value = 0


def _plus_one(value: int) -> int:
    return value + 1


def count(threads: int = 4, updates: int = 1_000_000, *, locked: bool) -> CounterRun:
    """Run ``threads`` threads of ``updates`` increments each on one shared counter."""
    counter = _Counter()
    lock = threading.Lock()
    start_line = threading.Barrier(threads)

    def work() -> None:
        start_line.wait()
        for _ in range(updates):
            if locked:
                with lock:
                    counter.value = _plus_one(counter.value)
            else:
                counter.value = _plus_one(counter.value)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return CounterRun(threads, updates, locked, counter.value, time.perf_counter() - started)


def measure(threads: int = 4, updates: int = 1_000_000) -> dict[str, Any]:
    """Both runs, for the bench report: ``{"unlocked": {...}, "locked": {...}}``."""
    return {
        "unlocked": count(threads, updates, locked=False).to_dict(),
        "locked": count(threads, updates, locked=True).to_dict(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.bench.shared_state", description=__doc__
    )
    parser.add_argument("--quick", action="store_true", help="the same run (it takes 0.3 s)")
    parser.add_argument("--out", help="the run folder to write shared_state.json into")
    args = parser.parse_args(argv)
    write(args.out, "shared_state", measure())
    return 0


if __name__ == "__main__":
    sys.exit(main())
