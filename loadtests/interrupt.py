"""Ctrl-C in a swarm ends Locust quietly: no gevent KeyboardInterrupt traceback.

The SIGINT lands in whichever greenlet runs (a user's, mostly); gevent's hub
prints it with its traceback, then throws it into the main greenlet, where
Locust saves its reports and shuts down as for any Ctrl-C. Marking
KeyboardInterrupt as one of the hub's :attr:`~gevent.hub.Hub.NOT_ERROR`
(gevent's documented knob) keeps the second part and drops the print: the
interrupt still stops Locust, and ``iomodels locust`` prints its one
"stopped" line.
"""

from __future__ import annotations

from typing import Any

import gevent
from locust import events


def quiet_interrupts() -> None:
    """Let the hub pass KeyboardInterrupt on to the main greenlet without printing it."""
    hub = gevent.get_hub()
    if not issubclass(KeyboardInterrupt, hub.NOT_ERROR):
        hub.NOT_ERROR = (*hub.NOT_ERROR, KeyboardInterrupt)


@events.init.add_listener
def on_init(environment: Any, **_: Any) -> None:
    quiet_interrupts()
