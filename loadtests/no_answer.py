"""One line when the target does not answer, instead of a failure per request and no cause.

A listener on Locust's ``request`` event: the first request that fails because
nothing listens there (connection refused, host unreachable) logs
``the host http://... does not answer (ConnectionRefusedError: ...)`` once per
test. The failures themselves stay counted under that error by Locust.
"""

from __future__ import annotations

import logging
from typing import Any

from locust import events

logger = logging.getLogger(__name__)


def not_answering(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the address has no server (not a slow or wrong answer)."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    return isinstance(exc, OSError) and exc.errno in (111, 113, 101)  # refused, unreachable


def host_does_not_answer(host: str, exc: BaseException) -> str:
    """The one line said."""
    return f"the host {host} does not answer ({type(exc).__name__}: {exc})"


@events.init.add_listener
def on_init(environment: Any, **_: Any) -> None:
    said = False

    @environment.events.test_start.add_listener
    def on_test_start(**_: Any) -> None:
        nonlocal said
        said = False

    @environment.events.request.add_listener
    def on_request(exception: BaseException | None = None, **_: Any) -> None:
        nonlocal said
        if not said and not_answering(exception):
            said = True
            assert exception is not None
            logger.error("%s", host_does_not_answer(environment.host or "?", exception))
