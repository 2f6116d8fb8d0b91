"""The fork model: fork() returns twice, and the parent tracks and reaps every child."""

from __future__ import annotations

import json

from servers.launcher import ServerProcess
from tests.helpers import wait_until
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
            # one live child per open connection, nothing else: the 30 closed ones are reaped
            wait_until(lambda: len(server.tree()[1:]) == 5, 10, what="one child per connection")
            with Wire(server.port) as probe:
                stats = json.loads(probe.request(get("/stats", extra="Connection: close\r\n")).body)
            assert stats["connections_open"] == 6 and stats["requests_total"] == 30 + 5 + 1
        finally:
            for w in held:
                w.close()
        wait_until(lambda: server.tree()[1:] == [], 10, what="every child reaped")
