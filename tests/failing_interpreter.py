"""Test double: ``iomodels serve --model interpreters`` whose worker interpreters fail on cue.

Run as ``python -m tests.failing_interpreter serve --model interpreters ...``.
Each worker interpreter runs the real worker, except that:

* while the file named by ``IOMODELS_TEST_BROKEN`` exists, a worker fails
  before it accepts (as a worker that cannot import its code would);
* the first worker to find the file named by ``IOMODELS_TEST_TRIGGER`` removes
  it and lets an exception escape its loop (as a bug in the loop would);
* the first worker to find the file named by ``IOMODELS_TEST_HANG`` removes it
  and never returns from the callback (as a callback stuck in C would).
"""

from __future__ import annotations

import os
import sys
import time

from handloop import Loop

#: How often a worker looks for the trigger file.
POLL_S = 0.05


class BugEscaped(BaseException):
    """What escapes the loop: ``Loop.run`` logs and survives an ``Exception``, not this."""


class LoopThatFails(Loop):
    """The reactor's loop, with a timer that fails or hangs once a cue file is taken."""

    def __init__(self) -> None:
        super().__init__()
        self.call_later(POLL_S, self._look_for_cues)

    def _look_for_cues(self) -> None:
        if _take("IOMODELS_TEST_HANG"):
            while True:
                time.sleep(1)
        if _take("IOMODELS_TEST_TRIGGER"):
            raise BugEscaped("a bug escaped the loop (test double)")
        self.call_later(POLL_S, self._look_for_cues)


def _take(variable: str) -> bool:
    """Remove the file named by ``variable``; True if this call removed it."""
    try:
        os.unlink(os.environ[variable])
    except (KeyError, FileNotFoundError):
        return False
    return True


def run(*args: object) -> None:
    """The worker interpreter's entry: the real one, with :class:`LoopThatFails`."""
    from servers.models import _interpreter_worker

    broken = os.environ.get("IOMODELS_TEST_BROKEN")
    if broken and os.path.exists(broken):
        raise RuntimeError("this worker cannot start (test double)")
    _interpreter_worker.Loop = LoopThatFails  # type: ignore[misc]
    _interpreter_worker.run(*args)  # type: ignore[arg-type]


if __name__ == "__main__":
    from iomodels.cli import main
    from servers.models import interpreters

    interpreters.WORKER = "tests.failing_interpreter:run"
    sys.exit(main())
