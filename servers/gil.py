"""Whether this interpreter runs with the GIL, and which import turned it back on.

A free-threaded build (``python3.13t``, PEP 703) starts without the GIL but
turns it back on, for good, when it imports an extension module that has not
declared it can run without it; CPython then warns (a ``RuntimeWarning``
naming the module). A server must never run with a silent GIL, so:

* :func:`gil_state` is ``"off"`` (free-threaded, GIL off), ``"on"`` (a
  free-threaded build whose GIL was turned back on) or ``"none"`` (a default
  build: there is no choice, the GIL is always there); the ``listening on``
  line carries it as ``gil=``.
* :func:`gil_enabled` is what ``/stats`` reports as ``gil_enabled``.
* :func:`watch_gil` names the module that turned the GIL back on, once, on stderr.
"""

from __future__ import annotations

import re
import sys
import sysconfig
import warnings
from typing import Any

_ENABLED_BY = re.compile(r"GIL\) has been enabled to load module '([^']+)'")
_named: list[str] = []


def free_threaded_build() -> bool:
    """This interpreter was built with ``--disable-gil`` (whether or not the GIL is on now)."""
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def gil_enabled() -> bool:
    """The GIL is on now (always, on a default build)."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


def gil_state() -> str:
    """``"off"``, ``"on"`` (turned back on, free-threaded build) or ``"none"`` (a default build)."""
    if not free_threaded_build():
        return "none"
    return "on" if gil_enabled() else "off"


def enabled_by() -> str | None:
    """The module whose import turned the GIL back on, if it happened after :func:`watch_gil`."""
    return _named[0] if _named else None


def watch_gil() -> None:
    """From now on, say once on stderr which import turns the GIL back on (free-threaded builds).

    Replaces CPython's own warning (several lines, per module) by one line for
    the first module; the GIL stays on afterwards, so later ones change nothing.
    """
    if not free_threaded_build() or gil_enabled():
        return
    shown = warnings.showwarning

    def showwarning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        match = _ENABLED_BY.search(str(message))
        if match is None:
            shown(message, category, *args, **kwargs)
            return
        if not _named:
            _named.append(match.group(1))
            print(
                f"iomodels: the GIL is back ON: importing {match.group(1)!r} enabled it "
                "(it has not declared free-threading support); threads now take turns",
                file=sys.stderr,
                flush=True,
            )

    warnings.showwarning = showwarning
