"""How often the GIL changes hands between two CPU-bound threads, timed.

The article says the interpreter releases the GIL "every 100 bytecodes": that
was CPython 2's tick counter. Since 3.2 a thread waiting for the GIL asks the
holder to let go after ``sys.getswitchinterval()`` (5 ms by default), however
many bytecodes that is. Two threads spin here, each noting the moment it finds
that the other held the GIL last; the gaps between those moments are how long
each held it, and the spins between them, times the bytecodes of one spin
(counted by tracing opcodes), how many bytecodes that was.

Each spinner has a CPU of its own when there are two: otherwise the scheduler
puts both on one CPU, and a hand-over waits for it to preempt the holder (a
tick, 4 ms here) rather than for the interpreter to ask. Run by the bench in a
process of its own (``python -m clients.bench.gil_switch --out DIR`` writes
``DIR/gil_switch.json``; without ``--out``, JSON on stdout): the bench's own
threads must not take turns with the spinners.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from clients.bench.experiments import write

#: switch intervals measured, in ms (the default, 5 ms, among them)
INTERVALS_MS = (0.5, 5.0, 50.0)
#: at least this many hand-overs per interval, and at least this long
MIN_HANDOVERS = 100
MIN_SECONDS = 1.0
QUICK_HANDOVERS = 20
QUICK_SECONDS = 0.3
#: the marker a finished spinner leaves, so that the other one looks up and stops
_DONE = object()


def spin(me: object, holder: list[Any], marks: list[tuple[int, object, int]], deadline: int) -> int:
    """Count spins; each time ``me`` finds another holder recorded, note ``(time, me, spins)``.

    Returns the spins made. Stops at the first hand-over after ``deadline``
    (``time.perf_counter_ns``), leaving :data:`_DONE` for the other spinner.
    """
    spins = 0
    while True:
        spins += 1
        if holder[0] is not me:
            now = time.perf_counter_ns()
            holder[0] = me
            marks.append((now, me, spins))
            if now > deadline:
                holder[0] = _DONE
                return spins


def bytecodes_per_spin(spins: int = 2000) -> float:
    """The bytecodes of one spin of :func:`spin`, counted by tracing opcodes."""
    counted = 0

    def trace(frame: Any, event: str, arg: object) -> Any:
        nonlocal counted
        if frame.f_code is not spin.__code__:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode":
            counted += 1
            if counted == spins * 1000:  # far more than needed: then make the spinner stop
                holder[0] = _DONE
        return trace

    me = object()
    holder: list[Any] = [me]
    marks: list[tuple[int, object, int]] = []
    sys.settrace(trace)
    try:
        made = spin(me, holder, marks, deadline=0)
    finally:
        sys.settrace(None)
    # the run is `made` spins; the last one took the branch that records and returns
    return counted / made


def hand_overs(interval_ms: float, seconds: float) -> list[tuple[int, object, int]]:
    """Two spinners for ``seconds`` at switch interval ``interval_ms``: their marks, in time order."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(interval_ms / 1000)
    holder: list[Any] = [None]
    marks: list[tuple[int, object, int]] = []
    start = threading.Barrier(2)
    cpus = sorted(os.sched_getaffinity(0))
    deadline = 0

    def run(me: object, cpu: int | None) -> None:
        if cpu is not None:
            os.sched_setaffinity(threading.get_native_id(), {cpu})
        start.wait()
        spin(me, holder, marks, deadline)

    try:
        deadline = time.perf_counter_ns() + int(seconds * 1e9)
        own = cpus[:2] if len(cpus) >= 2 else [None, None]
        threads = [threading.Thread(target=run, args=(object(), cpu)) for cpu in own]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    return marks


def summarize(
    interval_ms: float, marks: Sequence[tuple[int, object, int]], per_spin: float | None
) -> dict[str, Any]:
    """The hold times (ms) and bytecodes per hold of one interval's marks (the first two dropped)."""
    holds_ms = [(b[0] - a[0]) / 1e6 for a, b in zip(marks, marks[1:], strict=False)][2:]
    last: dict[object, int] = {}
    spins: list[int] = []
    for _, me, count in marks:
        if me in last:
            spins.append(count - last[me])
        last[me] = count
    spins = spins[2:]
    median_spins = statistics.median(spins) if spins else None
    return {
        "interval_ms": interval_ms,
        "handovers": len(holds_ms),
        "median_ms": statistics.median(holds_ms) if holds_ms else None,
        "p99_ms": _percentile(holds_ms, 0.99),
        "bytecodes": None if median_spins is None or per_spin is None else median_spins * per_spin,
    }


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(intervals_ms: Sequence[float] = INTERVALS_MS, quick: bool = False) -> dict[str, Any]:
    """Every interval in turn: the ``HandOvers`` record as a dict."""
    least, shortest = (QUICK_HANDOVERS, QUICK_SECONDS) if quick else (MIN_HANDOVERS, MIN_SECONDS)
    per_spin = bytecodes_per_spin()
    steps = []
    for interval in intervals_ms:
        seconds = max(shortest, least * interval / 1000)
        steps.append(summarize(interval, hand_overs(interval, seconds), per_spin))
    return {
        "default_interval_ms": sys.getswitchinterval() * 1000,
        "own_cpus": len(os.sched_getaffinity(0)) >= 2,
        "bytecodes_per_iteration": per_spin,
        "steps": steps,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clients.bench.gil_switch", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer hand-overs per interval")
    parser.add_argument("--out", help="the run folder to write gil_switch.json into")
    args = parser.parse_args(argv)
    write(args.out, "gil_switch", measure(quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
