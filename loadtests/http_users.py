"""HTTP users for the iomodels servers (FastHttpUser: geventhttpclient, keep-alive).

``WebsiteUser`` mixes every route the way a visitor would; ``HelloUser``,
``IoUser`` and ``CpuUser`` each hammer one route so one property of a model
shows alone (raw overhead, waiting on IO, holding the GIL). Every answer is
checked, not just its status: a wrong body is a failure. A request that got
no answer at all (refused, reset, timed out) is left to Locust, which counts it
under its own error (``ConnectionRefusedError(111, ...)``): never read as an
empty body.
"""

from __future__ import annotations

import random
import re
from typing import Any

from locust import FastHttpUser, task

from loadtests import options as opt
from loadtests.scenario import WEBSITE_MIX

HELLO = b"Hello, World!"
_HREF = re.compile(rb'href="(/site/[^"]*)"')


def think_time(user: FastHttpUser) -> float:
    """Seconds to wait between tasks: uniform around ``--think-ms`` (0: none, closed loop flat out)."""
    mean_ms = float(opt.option(user.environment, "think_ms", opt.THINK_MS))
    return random.uniform(0.5, 1.5) * mean_ms / 1000.0 if mean_ms > 0 else 0.0


def answered(resp: Any) -> bool:
    """Whether the server answered; if not, Locust reports the request's own error on leaving."""
    return getattr(resp, "error", None) is None and resp.content is not None


class IomodelsUser(FastHttpUser):
    """The common part: think time, knobs, response checks."""

    abstract = True
    wait_time = think_time

    def knob(self, name: str, default: int) -> int:
        return int(opt.option(self.environment, name, default))

    def get_hello(self) -> None:
        with self.client.get("/", catch_response=True) as resp:
            if answered(resp) and resp.content != HELLO:
                resp.failure(f"unexpected body {resp.content[:40]!r}")

    def post_echo(self) -> None:
        size = self.knob("message_size", opt.MESSAGE_SIZE)
        body = random.randbytes(size)
        with self.client.post(
            "/echo",
            data=body,  # type: ignore[arg-type]
            name=f"/echo [{size} B]",
            catch_response=True,
        ) as resp:
            if answered(resp) and resp.content != body:
                resp.failure(f"echo mismatch: sent {size} B, got {len(resp.content)} B back")

    def get_io(self) -> None:
        ms = self.knob("io_ms", opt.IO_MS)
        with self.client.get(f"/io?ms={ms}", name=f"/io?ms={ms}", catch_response=True) as resp:
            if answered(resp) and resp.content != b"waited %d ms\n" % ms:
                resp.failure(f"unexpected body {resp.content[:40]!r}")

    def get_cpu(self) -> None:
        n = self.knob("cpu_n", opt.CPU_N)
        with self.client.get(f"/cpu?n={n}", name=f"/cpu?n={n}", catch_response=True) as resp:
            if answered(resp) and not resp.content:
                resp.failure("empty body")


class WebsiteUser(IomodelsUser):
    """A visitor: the hello page, an echo, an IO wait, a little CPU, and browsing ``/site/`` by its links."""

    def on_start(self) -> None:
        self.page = "/site/"

    @task(WEBSITE_MIX["hello"])
    def hello(self) -> None:
        self.get_hello()

    @task(WEBSITE_MIX["echo"])
    def echo(self) -> None:
        self.post_echo()

    @task(WEBSITE_MIX["io"])
    def io(self) -> None:
        self.get_io()

    @task(WEBSITE_MIX["cpu"])
    def cpu(self) -> None:
        self.get_cpu()

    @task(WEBSITE_MIX["browse"])
    def browse(self) -> None:
        """Open the current page and follow one of its links (redirects included, broken ones skipped)."""
        name = "/site/" if self.page == "/site/" else "/site/[page]"
        with self.client.get(self.page, name=name, catch_response=True) as resp:
            if not answered(resp):
                self.page = "/site/"
                return
            if resp.status_code != 200 or b"</html>" not in resp.content:
                resp.failure(f"bad page {self.page}: status {resp.status_code}")
                self.page = "/site/"
                return
        links = [
            href.decode()
            for href in _HREF.findall(resp.content)
            if not href.startswith((b"/site/missing/", b"/site/files/"))
        ]
        self.page = random.choice(links) if links else "/site/"


class HelloUser(IomodelsUser):
    """``GET /`` flat out: the per-request cost of each model (and of Locust)."""

    @task
    def hello(self) -> None:
        self.get_hello()


class IoUser(IomodelsUser):
    """``GET /io?ms=N``: requests that wait, the case coroutines and threads are made for."""

    @task
    def io(self) -> None:
        self.get_io()


class CpuUser(IomodelsUser):
    """``GET /cpu?n=N``: pure-Python work that holds the GIL."""

    @task
    def cpu(self) -> None:
        self.get_cpu()


class DbUser(IomodelsUser):
    """``GET /db?n=3&key=K``: round trips to a real Redis, through the server.

    Aim it at a server given an upstream (``make serve UPSTREAM=redis``, then
    ``HOST=http://127.0.0.1:8000``); without one every answer is a 503.

    Each answer must be the seeded values of the keys asked for.
    """

    #: Round trips per request.
    ROUND_TRIPS = 3

    @task
    def db(self) -> None:
        from servers.protocol.upstream import KEYS, value

        start = random.randrange(KEYS)
        n = self.ROUND_TRIPS
        want = b"".join(value((start + i) % KEYS) + b"\n" for i in range(n))
        path = f"/db?n={n}&key={start}"
        with self.client.get(path, name=f"/db?n={n}", catch_response=True) as resp:
            if answered(resp) and resp.content != want:
                resp.failure(f"unexpected body {resp.content[:60]!r}")
