"""Deterministic CPU work: pure Python for ``GET /cpu?n=N``, C code for ``GET /hash?kb=N``."""

from __future__ import annotations


def cpu_work(n: int) -> bytes:
    """Run ``n`` rounds of a 32-bit linear congruential generator, hashing as it goes.

    Pure Python on purpose: it holds the GIL the whole time, so threads cannot
    run it in parallel while processes can. About 50-80 ns per round on a
    current x86 core, so ``n=100_000`` is about 5-8 ms. The body depends only
    on ``n``.

    The generator's constants are made afresh by each call (:func:`_own`), not
    read from the code object: on free-threaded CPython 3.13t threads running
    this loop at once all touched the code object's shared int constants, and
    each call cost about 10% more CPU with two threads than with one; with
    constants of their own they cost the same (docs/free-threading.md).
    """
    mul, inc, mask = _own(1103515245), _own(12345), _own(0xFFFFFFFF)
    x = _own(2463534242)
    acc = 0
    for _ in range(n):
        x = (mul * x + inc) & mask
        acc ^= x
    return b"%d %d\n" % (n, acc)


def _own(value: int) -> int:
    """A new int equal to ``value``, made by (and so owned by) the calling thread."""
    return int(str(value))


#: SHA-256 is fed at most this much at a time (one call: the GIL is let go for all of it).
HASH_BLOCK = 1024 * 1024
_zeros = b""


def hash_work(kb: int) -> bytes:
    """SHA-256 over ``kb`` KiB of zero bytes; the body is ``kb`` and the hex digest.

    C code that releases the GIL: ``hashlib`` lets go of it while it hashes
    more than 2 KiB in one call, so threads can hash in parallel on several
    cores, where they cannot run :func:`cpu_work`. About 1 ms per MiB with
    SHA extensions. The body depends only on ``kb``.
    """
    global _zeros
    import hashlib  # OpenSSL loads with the first /hash, not with every server

    if not _zeros:
        _zeros = bytes(HASH_BLOCK)
    digest = hashlib.sha256()
    block = memoryview(_zeros)
    left = kb * 1024
    while left > 0:
        step = min(left, HASH_BLOCK)
        digest.update(block[:step])
        left -= step
    return b"%d %s\n" % (kb, digest.hexdigest().encode())
