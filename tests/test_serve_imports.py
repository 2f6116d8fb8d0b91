"""A server process loads its own model and nothing of the load tools.

Each registered model is started through ``ServerProcess`` as ``iomodels serve``
is (``iomodels.cli.main``), serves a request and is stopped with SIGTERM. Two
records of what it imported land in its stderr, which the launcher keeps:

* the interpreter's import log (``PYTHONPROFILEIMPORTTIME``, the environment form
  of ``-X importtime``): every module imported with an ``import`` statement, in
  the server and in every process it starts;
* ``sys.modules`` of the root process at exit, which also holds what was loaded
  through ``importlib`` (the sub-command and the driver), which the log misses.
"""

from __future__ import annotations

import re
import urllib.request

import pytest

from servers.launcher import ServerProcess
from servers.registry import MODELS, model_names
from tests.helpers import skip_unavailable

#: models whose driver runs on an asyncio event loop (the others must not import asyncio)
ASYNCIO_MODELS = {"asyncio", "uvloop", "multiprocess", "threadloops"}
#: what only the bench, the load client, Locust or the charts need
HEAVY = ("hdrh", "locust", "matplotlib", "rich", "aiohttp")
#: the project's packages a server may import
SERVER_PACKAGES = {"servers", "common", "iomodels"}
PROJECT_PACKAGES = {"servers", "common", "iomodels", "clients", "loadtests", "reporting"}

_IMPORT_LINE = re.compile(r"^import time:\s+\d+\s+\|\s+\d+\s+\|\s+(\S+)\s*$")
_AT_EXIT = "sys.modules at exit:"
#: ``iomodels.cli.main`` as ``python -m iomodels`` runs it, printing ``sys.modules`` at exit
_MAIN = (
    "import atexit, sys\n"
    f"atexit.register(lambda: print({_AT_EXIT!r}, *sorted(sys.modules), file=sys.stderr))\n"
    "from iomodels.cli import main\n"
    "sys.exit(main())\n"
)


class ImportRecordingServer(ServerProcess):
    """``iomodels serve`` with the import log on and ``sys.modules`` printed at exit."""

    def __init__(self, model: str) -> None:
        super().__init__(model, env={"PYTHONPROFILEIMPORTTIME": "1"})

    def command(self) -> list[str]:
        python, dash_m, module, *args = super().command()
        assert (dash_m, module) == ("-m", "iomodels")
        return [python, "-c", _MAIN, *args]


def imported_modules(log: str) -> tuple[set[str], set[str]]:
    """``(logged, at_exit)``: modules named by import-log lines, and the root's ``sys.modules`` at exit."""
    logged = {m.group(1) for line in log.splitlines() if (m := _IMPORT_LINE.match(line))}
    at_exit: set[str] = set()
    for line in log.splitlines():
        if line.startswith(_AT_EXIT):
            at_exit.update(line.removeprefix(_AT_EXIT).split())
    return logged, at_exit


def test_import_log_is_read() -> None:
    log = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       120 |        120 |   _io\n"
        "import time:      1234 |       5678 | servers.cli\n"
        "something else\n"
        f"{_AT_EXIT} sys iomodels.cli\n"
    )
    assert imported_modules(log) == ({"_io", "servers.cli"}, {"sys", "iomodels.cli"})


@pytest.mark.parametrize("model", model_names())
def test_server_loads_nothing_of_the_load_tools(model: str) -> None:
    skip_unavailable(model)
    server = ImportRecordingServer(model).start()
    try:
        with urllib.request.urlopen(f"{server.url}/", timeout=10) as resp:
            assert resp.read() == b"Hello, World!"
        assert server.stop() == 0
        logged, at_exit = imported_modules(server.log_text())
    finally:
        server.kill()
    # both records are the server's: the log saw its protocol core, the exit its driver
    assert "servers.protocol.connection" in logged
    assert {"iomodels.cli", "servers.cli", MODELS[model].module} <= at_exit
    modules = logged | at_exit
    roots = {name.split(".")[0] for name in modules}
    assert roots & PROJECT_PACKAGES <= SERVER_PACKAGES, sorted(
        name for name in modules if name.split(".")[0] in PROJECT_PACKAGES - SERVER_PACKAGES
    )
    assert not roots & set(HEAVY), sorted(roots & set(HEAVY))
    if model not in ASYNCIO_MODELS:
        assert "asyncio" not in roots
    if model != "gevent":
        assert "gevent" not in roots
