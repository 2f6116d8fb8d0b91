"""Helpers shared by the tests (no tests here)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from servers.registry import unavailable

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.02) -> T:
    """Call ``predicate`` until it returns something truthy; return that, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                f"gave up after {timeout} s waiting for {predicate!r} (last: {value!r})"
            )
        time.sleep(interval)


def skip_unavailable(model: str) -> None:
    """Skip the current test when ``model`` cannot run on this machine, with the registry's reason."""
    reason = unavailable(model)
    if reason is not None:
        pytest.skip(f"{model}: {reason}")
