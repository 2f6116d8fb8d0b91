"""The multiprocess model's supervisor and its fair accept on the shared socket."""

from __future__ import annotations

import collections
import json

from servers.launcher import ServerProcess
from tests.wire import Wire, get


def test_connections_spread_evenly_over_workers() -> None:
    with ServerProcess("multiprocess", args=["--workers", "2"]) as server:
        wires: list[Wire] = []
        docs = []
        try:
            # one connection at a time, each answered (so counted by its worker) before the next
            for _ in range(4):
                wires.append(Wire(server.port))
                docs.append(json.loads(wires[-1].request(get("/stats")).body))
        finally:
            for w in wires:
                w.close()
    per_worker = collections.Counter(doc["pid"] for doc in docs)
    assert sorted(per_worker.values()) == [2, 2], per_worker
    assert all(doc["workers"] == 2 and doc["root_pid"] == server.pid for doc in docs)


def test_worker_count_follows_the_flag() -> None:
    with ServerProcess("multiprocess", args=["--workers", "3"]) as server:
        children = [p for p in server.tree() if p.pid != server.pid]
        workers = [p for p in children if "resource_tracker" not in " ".join(p.cmdline())]
        with Wire(server.port) as w:
            doc = json.loads(w.request(get("/stats")).body)
    assert doc["workers"] == 3
    assert len(workers) == 3
