"""Security defaults: loopback only, loud about exposure and /crash, no file system, limits on."""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable

import pytest

from iomodels.cli import parse_args
from servers import listener as listener_module
from servers.cli import config_from_args
from servers.launcher import ServerProcess
from servers.protocol.config import Limits, ServerConfig
from servers.protocol.connection import make_connection_factory
from servers.stats import LocalStats
from tests.corpus import load_cases
from tests.wire import Wire, get

Start = Callable[..., ServerProcess]


def test_defaults_are_safe() -> None:
    """127.0.0.1, /crash off, every limit on, a 1024 backlog: without any flag."""
    config = config_from_args(parse_args(["serve"]))
    assert config.host == "127.0.0.1"
    assert config.allow_crash is False
    assert config.backlog >= 1024
    assert config.limits == Limits()
    limits = config.limits
    assert (
        limits.header_timeout == 10 and limits.body_timeout == 10 and limits.keepalive_timeout == 5
    )
    assert limits.max_body == 1 << 20 and limits.max_request_line == 8192
    assert limits.max_header_line == 8192 and limits.max_header_count == 100


@pytest.mark.parametrize("host", ["0.0.0.0", "::", ""])
def test_warns_when_binding_every_interface(
    host: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warning comes before the bind (the test binds loopback, never every interface)."""
    real = socket.getaddrinfo
    monkeypatch.setattr(
        listener_module.socket, "getaddrinfo", lambda h, *a, **k: real("127.0.0.1", *a, **k)
    )
    with caplog.at_level(logging.WARNING, logger="servers.listener"):
        listener_module.bind_listener(host, 0, 1).close()
    assert "binding every interface" in caplog.text


def test_no_warning_on_loopback(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="servers.listener"):
        listener_module.bind_listener("127.0.0.1", 0, 1).close()
    assert caplog.text == ""


def test_crash_is_off_by_default_and_loud_when_on(start_server: Start) -> None:
    quiet = start_server("asyncio")
    with Wire(quiet.port) as wire:
        assert wire.request(get("/crash")).status == 404
    assert "crash" not in quiet.log_text().lower()
    loud = start_server("asyncio", args=["--allow-crash"])
    assert "WARNING" in loud.log_text() and "GET /crash is ENABLED" in loud.log_text()


FS_EVENTS = (
    "open",
    "os.listdir",
    "os.scandir",
    "os.remove",
    "os.rename",
    "os.mkdir",
    "shutil.",
    "os.chdir",
)
_recording: list[str] | None = None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if _recording is not None and event.startswith(FS_EVENTS):
        _recording.append(f"{event}{args!r}")


def test_no_request_touches_the_file_system() -> None:
    """Every route and every corpus case through the core: no file system audit event."""
    global _recording
    sys.addaudithook(_audit)  # cannot be removed: it records only while _recording is set
    factory = make_connection_factory(ServerConfig(site_pages=50), LocalStats("audit"))
    requests = [
        get(path)
        for path in (
            "/",
            "/io?ms=0",
            "/cpu?n=10",
            "/site/",
            "/site/3",
            "/site/../../etc/passwd",
            "/site/files/1.bin",
            "/site/%2e%2e/%2e%2e/etc/passwd",
            "/etc/passwd",
            "/crash",
        )
    ]
    requests.append(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n/etc/passwd")
    requests += [case.payload for case in load_cases()]
    _recording = []
    try:
        open(__file__, "rb").close()  # the hook does see file access
        assert len(_recording) == 1
        _recording.clear()
        for raw in requests:
            factory().receive_data(raw)
        touched = list(_recording)
    finally:
        _recording = None
    assert touched == []
