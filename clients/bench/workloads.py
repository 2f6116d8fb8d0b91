"""The workloads of ``iomodels bench``: what each asks of the servers, and which references join it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
    "reactor": "ref-echo-asyncio",
    "generators": "ref-echo-asyncio",
    "iouring": "ref-bare",
}

#: Target ms of pure-Python work per ``cpu`` request (``n`` is calibrated to it).
CPU_TARGET_MS = 5.0
IO_WAIT_MS = 50


@dataclass(frozen=True)
class Workload:
    """One workload: one run per target, or a curve (one run per point).

    Attributes:
        mode: the load client's mode: ``echo``, ``http``, ``churn`` or ``idle``; or
            ``rate-sweep`` or ``slow-clients`` (several loads in turn on one server,
            :mod:`clients.bench.capacity_runs`).
        path: HTTP target (``{cpu_n}`` is filled in with the calibrated ``n``).
        size: echo message bytes.
        connections: concurrent connections (idle: the probe's).
        references: reference servers measured in the same run.
        server_all_cpus: give the server every CPU (the ``cpu`` workload shows the use of cores).
        ideal_rps: the throughput of a perfect server (io-wait), for efficiency.
        axis: a curve's x (what its points vary); empty for a workload of one point.
        points, quick_points: the curve's x values, in full and with ``--quick``.
        models: the models a curve is drawn for (None: every model).
        quick_models: with ``--quick`` and every model asked for, only these.
        conn_memory: measure the server's memory per connection (PSS, before the
            load and with every connection open).
        at: a curve's point at x for one model (:func:`clients_at` when None: x clients).
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
    axis: str = ""
    points: tuple[float, ...] = ()
    quick_points: tuple[float, ...] = ()
    models: tuple[str, ...] | None = None
    quick_models: tuple[str, ...] | None = None
    conn_memory: bool = False
    at: Callable[[Workload, str, float], Point] | None = field(default=None, compare=False)

    @property
    def protocol(self) -> str:
        return "echo" if self.mode == "echo" else "http"

    @property
    def curve(self) -> bool:
        """The workload is drawn as a curve: a run per point."""
        return bool(self.axis)

    @property
    def loader_args(self) -> tuple[str, ...]:
        """What the load client is told beside the URL, connections and timing (its mode)."""
        if self.mode == "echo":
            return ("--size", str(self.size))
        return ("--churn",) if self.mode == "churn" else ()


@dataclass(frozen=True)
class Point:
    """What one run of a workload asks: the workload's own figures, or those of one point of its curve.

    Attributes:
        x: the point on the curve's axis (None for a workload of one point).
        server_args: more ``iomodels serve`` flags.
        ideal_rps: the throughput of a perfect server, for efficiency.
        background: an HTTP target kept busy by :data:`BACKGROUND_CONNECTIONS`
            other clients during the run (``{cpu_n}`` and ``{long_cpu_n}`` filled in).
        loader_args: more load client flags (an open-loop curve's ``--rate``, say).
    """

    x: float | None
    connections: int
    path: str
    server_args: tuple[str, ...] = ()
    ideal_rps: float | None = None
    background: str = ""
    loader_args: tuple[str, ...] = ()


#: ``cpu-sweep``: processes a model of this kind is given (``--workers``); others get clients
WORKER_MODELS = ("multiprocess", "prefork")
#: models whose threads run the requests' Python (where the GIL's switch interval matters)
THREAD_MODELS = ("thread", "threadpool")
#: ``conn-sweep``: the ideal rate at every point (N connections each wait N/10 ms)
CONN_SWEEP_RPS = 10_000
#: ``cpu-c``: KiB hashed per request (about 3 ms of SHA-256 with SHA extensions)
HASH_KB = 4096
#: ``gil-switch``: clients keeping ``/cpu`` busy, and the clients timing ``GET /``
BACKGROUND_CONNECTIONS = 2
#: ``gil-switch``: the background's requests are this many ``cpu`` requests long (about 200 ms:
#: longer than every switch interval, so that a thread lets go of the GIL only when asked)
LONG_CPU_FACTOR = 40
GIL_PROBE_CONNECTIONS = 4


def conn_sweep_wait_ms(connections: float) -> int:
    """``conn-sweep``: each request's wait at ``connections`` (N/10 ms: the ideal rate stays)."""
    return int(connections * 1000 // CONN_SWEEP_RPS)


def point(workload: Workload, model: str, x: float | None = None) -> Point:
    """The parameters of ``workload``'s run against ``model`` (at ``x`` on its curve)."""
    if x is None:
        return Point(
            None,
            workload.connections,
            workload.path,
            ideal_rps=workload.ideal_rps,
            loader_args=workload.loader_args,
        )
    return (workload.at or clients_at)(workload, model, x)


def clients_at(workload: Workload, model: str, x: float) -> Point:
    """A curve whose x is the number of clients."""
    return Point(x, int(x), workload.path, loader_args=workload.loader_args)


def conn_sweep_at(workload: Workload, model: str, x: float) -> Point:
    """``conn-sweep``: the wait grows with the connections, so the ideal rate stays."""
    n = int(x)
    return Point(x, n, f"/io?ms={conn_sweep_wait_ms(n)}", ideal_rps=CONN_SWEEP_RPS)


def cpu_sweep_at(workload: Workload, model: str, x: float) -> Point:
    """``cpu-sweep``: x requests in flight, served by x processes (a worker model) or threads."""
    args = ("--workers", str(int(x))) if model in WORKER_MODELS else ()
    return Point(x, int(x), workload.path, args)


def gil_switch_at(workload: Workload, model: str, x: float) -> Point:
    """``gil-switch``: the server's switch interval is x ms, with /cpu kept busy beside."""
    interval = ("--switch-interval", f"{x:g}")
    return Point(x, workload.connections, workload.path, interval, background="/cpu?n={long_cpu_n}")


def points(workload: Workload, quick: bool) -> tuple[float | None, ...]:
    """The x values of a curve (``(None,)`` for a workload of one point)."""
    if not workload.curve:
        return (None,)
    return workload.quick_points if quick and workload.quick_points else workload.points


def models_for(workload: Workload, models: list[str], every_model: bool, quick: bool) -> list[str]:
    """The models of ``models`` that ``workload`` runs (``every_model``: none was named)."""
    chosen = [m for m in models if workload.models is None or m in workload.models]
    if quick and every_model and workload.quick_models is not None:
        chosen = [m for m in chosen if m in workload.quick_models]
    return chosen


#: ``rate-sweep-*`` and ``slow-clients`` with ``--quick``: a loop and the two bounded pools
RATE_SWEEP_QUICK_MODELS = ("uvloop", "threadpool", "prefork")
#: ``slow-clients``: the fast clients measured (fewer than threadpool's 32 threads)
SLOW_FAST_CONNECTIONS = 10
#: names that select several workloads
GROUPS = {"rate-sweep": ("rate-sweep-hello", "rate-sweep-io-wait")}

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
        Workload("conn-sweep", "http", "GET /io at 10 to 5,000 connections, each waiting connections/10 ms "
                 f"(ideal {CONN_SWEEP_RPS:,} req/s at every point)", axis="connections",
                 points=(10, 100, 1000, 5000), quick_points=(10, 1000),
                 quick_models=("uvloop", "thread"), conn_memory=True, at=conn_sweep_at),
        Workload("cpu-sweep", "http", "GET /cpu with 1 to 8 requests in flight, served by as many processes "
                 "(--workers) or threads, all CPUs", path="/cpu?n={cpu_n}", axis="workers",
                 points=(1, 2, 4, 8), quick_points=(1, 2, 4), server_all_cpus=True,
                 models=(*WORKER_MODELS, "thread", "fork"), quick_models=("multiprocess", "thread"),
                 at=cpu_sweep_at),
        Workload("cpu-c", "http", f"GET /hash?kb={HASH_KB} (SHA-256 in C, the GIL released) from 1 and 4 "
                 "clients, all CPUs", path=f"/hash?kb={HASH_KB}", axis="clients", points=(1, 4),
                 server_all_cpus=True, quick_models=("thread",)),
        Workload("gil-switch", "http", "two threads handing the GIL over; then GET / from "
                 f"{GIL_PROBE_CONNECTIONS} clients while {BACKGROUND_CONNECTIONS} keep /cpu busy, at GIL "
                 "switch intervals of 0.5, 5 and 50 ms, all CPUs", connections=GIL_PROBE_CONNECTIONS,
                 axis="switch interval ms", points=(0.5, 5, 50), server_all_cpus=True,
                 models=THREAD_MODELS, quick_models=("thread",), at=gil_switch_at),
        Workload("rate-sweep-hello", "rate-sweep", "GET / on 50 keep-alive connections: the closed-loop "
                 "capacity, then open-loop runs at fixed offered rates from 10% to 120% of it",
                 connections=50, quick_models=RATE_SWEEP_QUICK_MODELS),
        Workload("rate-sweep-io-wait", "rate-sweep", f"GET /io?ms={IO_WAIT_MS} on 500 keep-alive "
                 "connections: the closed-loop capacity, then open-loop runs at fixed offered rates "
                 "from 10% to 120% of it", path=f"/io?ms={IO_WAIT_MS}", connections=500,
                 quick_models=RATE_SWEEP_QUICK_MODELS),
        Workload("slow-clients", "slow-clients", f"GET / from {SLOW_FAST_CONNECTIONS} fast keep-alive "
                 "clients beside 0, 10, 100 and 1,000 slow ones (each sends its request 8 bytes every "
                 "50 ms, reads through a 4 KiB window every 50 ms, thinks 1 s)",
                 connections=SLOW_FAST_CONNECTIONS, quick_models=RATE_SWEEP_QUICK_MODELS),
    )
}  # fmt: skip

IDLE_STEPS = (0, 500, 1000, 2500, 5000, 10_000)
IDLE_STEPS_QUICK = (0, 1000, 2500)


def select(names: str | None) -> list[Workload]:
    """Workloads by comma-separated names or :data:`GROUPS` (all when empty); unknown names raise
    ``ValueError``."""
    if not names:
        return list(WORKLOADS.values())
    chosen = [w for n in names.replace(",", " ").split() for w in GROUPS.get(n, (n,))]
    unknown = [n for n in chosen if n not in WORKLOADS]
    if unknown:
        raise ValueError(
            f"unknown workload(s) {', '.join(unknown)}; choose from "
            f"{', '.join([*WORKLOADS, *GROUPS])}"
        )
    return [WORKLOADS[n] for n in chosen]
