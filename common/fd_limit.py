"""The open-files limit: lift it before opening thousands of sockets."""

from __future__ import annotations

import resource


def raise_fd_limit() -> int:
    """Lift the soft open-files limit to the hard one; returns the new soft limit.

    Child processes inherit it, so a launcher that raises it before starting a
    server lets the server hold as many connections as this process may.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard
