"""Deterministic pure-Python CPU work for ``GET /cpu?n=N``."""

from __future__ import annotations


def cpu_work(n: int) -> bytes:
    """Run ``n`` rounds of a 32-bit linear congruential generator, hashing as it goes.

    Pure Python on purpose: it holds the GIL the whole time, so threads cannot
    run it in parallel while processes can. About 50-80 ns per round on a
    current x86 core, so ``n=100_000`` is about 5-8 ms. The body depends only
    on ``n``.
    """
    x = 2463534242
    acc = 0
    for _ in range(n):
        x = (1103515245 * x + 12345) & 0xFFFFFFFF
        acc ^= x
    return b"%d %d\n" % (n, acc)
