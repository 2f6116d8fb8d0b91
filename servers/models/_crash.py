"""The ``CRASH`` action, performed the same way by every driver."""

from __future__ import annotations

import os
import signal


def crash_now() -> None:
    """Die by SIGSEGV, as a segfault in a C extension would: no cleanup, no traceback.

    In a forked child or a multiprocess worker only that process dies; in a
    threaded or single-process server it is the whole server.
    """
    try:
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)
    except ValueError:  # not the main thread (the thread model): SIGSEGV is SIG_DFL unless set
        pass
    os.kill(os.getpid(), signal.SIGSEGV)
