"""What the Locust users ask, as plain data (no Locust import): the knobs' defaults and WebsiteUser's mix.

The users (:mod:`loadtests.http_users`) and the command-line options
(:mod:`loadtests.options`) read these; so does the comparison report, which
runs without Locust and explains the latencies the mix produces.
"""

from __future__ import annotations

#: defaults of the iomodels knobs (``--message-size``, ``--io-ms``...)
MESSAGE_SIZE = 1024
IO_MS = 50
CPU_N = 2_000
THINK_MS = 0
ECHO_TIMEOUT_S = 10.0
STATS_INTERVAL_S = 1.0
LOADER_BOUND_PCT = 80.0

#: WebsiteUser's tasks and their weights: how often each is picked
WEBSITE_MIX: dict[str, int] = {"hello": 4, "echo": 2, "io": 2, "cpu": 1, "browse": 3}


def share(task: str, mix: dict[str, int] = WEBSITE_MIX) -> float:
    """The fraction of the tasks that are ``task``."""
    return mix[task] / sum(mix.values())
