"""The fork model: fork() returns twice, and the parent tracks and reaps every child."""

from __future__ import annotations

import json
import time

from servers.launcher import ServerProcess
from tests.wire import Wire, get


def test_children_are_reaped_never_left_as_zombies() -> None:
    with ServerProcess("fork") as server:
        for _ in range(30):
            with Wire(server.port) as w:
                assert w.request(get("/", extra="Connection: close\r\n")).status == 200
        held = [Wire(server.port) for _ in range(5)]
        try:
            for w in held:
                assert w.request(get("/")).status == 200
            children = server.tree()[1:]
            assert len(children) == 5  # one live child per open connection, nothing else
            with Wire(server.port) as probe:
                stats = json.loads(probe.request(get("/stats", extra="Connection: close\r\n")).body)
            assert stats["connections_open"] == 6 and stats["requests_total"] == 30 + 5 + 1
        finally:
            for w in held:
                w.close()
        deadline = time.monotonic() + 5
        while server.tree()[1:] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.tree()[1:] == [], "children left behind (zombies or still running)"
