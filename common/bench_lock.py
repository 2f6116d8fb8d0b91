"""One load at a time on this machine: the bench lock.

Every command that puts load on a server (``iomodels bench``, ``loadtest``,
``compare``, ``crawl-bench``, ``soak``) holds an exclusive ``fcntl.flock`` on
``iomodels-bench.lock`` in the temporary directory while it measures, so two
measurements never share the CPUs. A second command waits, and says so, naming
the command that holds the lock. ``flock(1)`` on the same file (``flock
/tmp/iomodels-bench.lock wrk ...``) takes the same lock.

``IOMODELS_BENCH_LOCK`` names another file (the tests use their own, so a test
run never waits for a benchmark, nor delays one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

LOCK_NAME = "iomodels-bench.lock"
ENV_VAR = "IOMODELS_BENCH_LOCK"


def lock_path() -> Path:
    """The lock file: ``$IOMODELS_BENCH_LOCK``, else ``iomodels-bench.lock`` in the temporary directory."""
    return Path(os.environ.get(ENV_VAR) or Path(tempfile.gettempdir()) / LOCK_NAME)


def _holder(file: TextIO) -> str:
    """Who holds the lock, as its holder wrote it (empty when it wrote nothing, as flock(1) does)."""
    file.seek(0)
    return file.read().strip()


@contextlib.contextmanager
def bench_lock(command: str, *, out: TextIO | None = None) -> Iterator[float]:
    """Hold the bench lock for the block; yields the seconds spent waiting for it.

    Args:
        command: what is about to run, written into the lock file for whoever waits.
        out: where the waiting message goes (stderr by default).
    """
    out = out or sys.stderr
    path = lock_path()
    with open(path, "a+") as file:
        started = time.monotonic()
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(file) or "another load run"
            print(
                f"waiting for {path}: {holder} is measuring on this machine "
                "(one load at a time; Ctrl-C gives up)",
                file=out,
                flush=True,
            )
            fcntl.flock(file, fcntl.LOCK_EX)
            print(
                f"got {path} after {time.monotonic() - started:.0f} s: starting",
                file=out,
                flush=True,
            )
        waited = time.monotonic() - started
        file.seek(0)
        file.truncate()
        file.write(f"pid {os.getpid()} ({command})\n")
        file.flush()
        try:
            yield waited
        finally:
            file.seek(0)
            file.truncate()
            file.flush()
            fcntl.flock(file, fcntl.LOCK_UN)
