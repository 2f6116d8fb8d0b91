"""The workloads of ``iomodels bench``: what each asks of the servers, and which references join it."""

from __future__ import annotations

from dataclasses import dataclass

ECHO_REFS = ("ref-bare", "ref-echo-asyncio", "ref-echo-gevent", "ref-echo-thread", "ref-echo-fork")
#: What people deploy for prefork, threadpool, gevent and uvloop (the ``references`` extra).
PRODUCTION_REFS = (
    "ref-gunicorn-sync",
    "ref-gunicorn-gthread",
    "ref-gunicorn-gevent",
    "ref-uvicorn",
)

#: The minimal echo server of each model's kind (echo-1k: the core must cost almost nothing).
KIND_REFERENCE = {
    "asyncio": "ref-echo-asyncio",
    "uvloop": "ref-bare",
    "multiprocess": "ref-bare",
    "gevent": "ref-echo-gevent",
    "thread": "ref-echo-thread",
    "fork": "ref-echo-fork",
    "prefork": "ref-echo-fork",
    "threadpool": "ref-echo-thread",
}

#: Target ms of pure-Python work per ``cpu`` request (``n`` is calibrated to it).
CPU_TARGET_MS = 5.0
IO_WAIT_MS = 50


@dataclass(frozen=True)
class Workload:
    """One workload.

    Attributes:
        mode: the load client's mode: ``echo``, ``http``, ``churn`` or ``idle``.
        path: HTTP target (``{cpu_n}`` is filled in with the calibrated ``n``).
        size: echo message bytes.
        connections: concurrent connections (idle: the probe's).
        references: reference servers measured in the same run.
        server_all_cpus: give the server every CPU (the ``cpu`` workload shows the use of cores).
        ideal_rps: the throughput of a perfect server (io-wait), for efficiency.
    """

    name: str
    mode: str
    summary: str
    path: str = "/"
    size: int = 0
    connections: int = 10
    references: tuple[str, ...] = ()
    server_all_cpus: bool = False
    ideal_rps: float | None = None

    @property
    def protocol(self) -> str:
        return "echo" if self.mode == "echo" else "http"


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("echo-1k", "echo", "raw echo, 1 KiB messages, 10 connections", size=1024, references=ECHO_REFS),
        Workload("echo-10k", "echo", "raw echo, 10 KiB messages, 10 connections", size=10 * 1024,
                 references=ECHO_REFS),
        Workload("echo-100k", "echo", "raw echo, 100 KiB messages, 10 connections", size=100 * 1024,
                 references=ECHO_REFS),
        Workload("hello", "http", "GET / on keep-alive, 50 connections", connections=50,
                 references=("ref-bare", "ref-aiohttp", "ref-aiohttp-stdlib", "ref-nginx", *PRODUCTION_REFS)),
        Workload("io-wait", "http", f"GET /io?ms={IO_WAIT_MS}, 500 connections (ideal 10,000 req/s)",
                 path=f"/io?ms={IO_WAIT_MS}", connections=500, references=("ref-aiohttp", *PRODUCTION_REFS),
                 ideal_rps=500 * 1000 / IO_WAIT_MS),
        Workload("cpu", "http", f"GET /cpu (about {CPU_TARGET_MS:g} ms of pure Python), 4 connections, all CPUs",
                 path="/cpu?n={cpu_n}", connections=4, references=("ref-aiohttp",), server_all_cpus=True),
        Workload("churn", "churn", "GET / with Connection: close (a new connection per request), 10 connections",
                 connections=10, references=("ref-bare", "ref-aiohttp", *PRODUCTION_REFS)),
        Workload("idle", "idle", "steps of idle keep-alive connections up to 10,000; hello probe at each step",
                 connections=10, references=("ref-bare",)),
    )
}  # fmt: skip

IDLE_STEPS = (0, 500, 1000, 2500, 5000, 10_000)
IDLE_STEPS_QUICK = (0, 1000, 2500)


def select(names: str | None) -> list[Workload]:
    """Workloads by comma-separated names (all when empty); unknown names raise ``ValueError``."""
    if not names:
        return list(WORKLOADS.values())
    chosen = names.replace(",", " ").split()
    unknown = [n for n in chosen if n not in WORKLOADS]
    if unknown:
        raise ValueError(
            f"unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}"
        )
    return [WORKLOADS[n] for n in chosen]
