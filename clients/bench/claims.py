"""The claims the bench checks, in one table: each is judged once, and every page shows that verdict.

A :class:`Claim` has an id (how the Chinese page of the article's claims,
:mod:`clients.bench.article`, names it), the text the report states, the
measure that reads its figure from the runs (a key of
:data:`clients.bench.measures.MEASURES`) and its bounds, or what to expect when
it is only reported. :func:`judge` reads every claim the runs can answer;
report.md, docs/results.md and docs/claims.zh.md are rendered from its verdicts.
A claim whose runs are not in the results is left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clients.bench.measures import MEASURES, Results
from clients.bench.records import Verdict
from clients.bench.workloads import IO_WAIT_MS, KIND_REFERENCE


@dataclass(frozen=True)
class Claim:
    """One claim in numbers.

    Attributes:
        id: its name (unique; the article's rows name claims by it).
        text: the claim as the report states it.
        workload: the workload whose runs answer it.
        model: the run (or curve, or experiment) measured.
        measure: a key of :data:`clients.bench.measures.MEASURES`: how it is read.
        figure: ``figure`` measure: a key of :data:`clients.bench.measures.FIGURES`;
            ``syscalls``: the counting (``echo-1k`` or ``hello``).
        versus: a second run (curve) on the same workload: the figure is compared with its own.
        against: a second figure of the same run to compare with (a prediction).
        compare: ``"ratio"`` (model / versus) or ``"minus"`` (model - versus).
        at, base: the points of a curve read (``at`` against ``base``).
        low, high: bounds the result must lie within (none: reported, not judged).
        expect: what to expect, for a claim that is reported rather than judged.
        needs: ``(figure, minimum)``: below it the run says too little for a pass
            to count (a failure still counts).
    """

    id: str
    text: str
    workload: str
    model: str
    measure: str = "figure"
    figure: str = ""
    versus: str | None = None
    against: str | None = None
    compare: str = "ratio"
    at: float | None = None
    base: float | None = None
    low: float | None = None
    high: float | None = None
    expect: str = ""
    needs: tuple[str, float] | None = None

    @property
    def judged(self) -> bool:
        """It has a target to hold (not a figure it only reports)."""
        if self.measure in ("figure", "syscalls"):
            return self.low is not None or self.high is not None
        return not self.expect


#: idle connections that a per-connection memory figure must be measured at
IDLE_CONNECTIONS = 10_000

#: Models whose pool serves fewer connections at once than echo-1k opens (one worker per server CPU).
POOLED_ONE_AT_A_TIME = ("prefork",)

#: Each model and the production server of the same architecture (the ``references`` extra).
COUNTERPARTS = {
    "prefork": "ref-gunicorn-sync",
    "threadpool": "ref-gunicorn-gthread",
    "gevent": "ref-gunicorn-gevent",
    "uvloop": "ref-uvicorn",
}
#: The most CPU per request each model may spend, as a share of its counterpart's.
CPU_TARGETS = {"prefork": 0.5, "threadpool": 0.5, "uvloop": 0.6}

CLAIMS: tuple[Claim, ...] = (
    Claim("hello-uvloop-vs-aiohttp", "hello: uvloop req/s vs ref-aiohttp", "hello", "uvloop",
          figure="rps", versus="ref-aiohttp", low=1.6),
    Claim("hello-uvloop-cpu-vs-aiohttp", "hello: uvloop CPU us/req vs ref-aiohttp", "hello", "uvloop",
          figure="cpu_us", versus="ref-aiohttp", high=0.6),
    Claim("hello-asyncio-vs-aiohttp-stdlib", "hello: asyncio req/s vs aiohttp.web on the stdlib loop",
          "hello", "asyncio", figure="rps", versus="ref-aiohttp-stdlib", low=1.4),
    Claim("hello-uvloop-vs-bare", "hello: uvloop req/s vs ref-bare", "hello", "uvloop", figure="rps",
          versus="ref-bare", low=0.5),
    # echo-1k: each model's CPU per message against the minimal server of its kind; prefork's one
    # worker (one per server CPU) serves one of the 10 connections at a time, a message per wake-up,
    # while the reference forks a process for each: reported, since the two do not do the same work
    *(
        Claim(f"echo-1k-{model}-cpu-vs-kind", f"echo-1k: {model} CPU us/msg vs {ref}", "echo-1k",
              model, figure="cpu_us", versus=ref,
              high=None if model in POOLED_ONE_AT_A_TIME else 1.3,
              expect="one worker serves one connection at a time; the other 9 wait"
              if model in POOLED_ONE_AT_A_TIME else "")
        for model, ref in KIND_REFERENCE.items()
    ),
    # cpu: the GIL
    Claim("cpu-multiprocess-vs-thread", "cpu: multiprocess req/s vs thread", "cpu", "multiprocess",
          figure="rps", versus="thread", low=1.7),
    Claim("cpu-thread-one-core", "cpu: thread uses one core (the GIL)", "cpu", "thread",
          figure="cores", low=0.9, high=1.1),
    # cpu without the GIL: the free-threaded build against the same source built with it
    Claim("cpu-thread-ft-cores", "cpu: thread on free-threaded 3.13t uses both cores", "cpu",
          "thread-ft", figure="cores", low=1.8),
    Claim("cpu-threadloops-ft-cores", "cpu: threadloops on free-threaded 3.13t uses both cores",
          "cpu", "threadloops-ft", figure="cores", low=1.7),
    Claim("cpu-threadloops-gil-one-core",
          "cpu: threadloops on the same source with the GIL uses one core", "cpu",
          "threadloops-gil", figure="cores", low=0.9, high=1.1),
    Claim("cpu-thread-ft-vs-gil", "cpu: thread req/s, free-threaded vs the same source with the GIL",
          "cpu", "thread-ft", figure="rps", versus="thread-gil", low=1.6),
    Claim("cpu-multiprocess-gil-vs-threadloops-ft",
          "cpu: multiprocess with the GIL vs threadloops without it (does multiprocess still win?)",
          "cpu", "multiprocess-gil", figure="rps", versus="threadloops-ft",
          expect="about 1x: both use two cores"),
    Claim("cpu-thread-ft-tax",
          "cpu: thread CPU us/req, free-threaded vs the same source with the GIL (the tax)", "cpu",
          "thread-ft", figure="cpu_us", versus="thread-gil",
          expect="a little more (3.13's HOWTO: up to 40%; 3.14's: 5-10%)"),
    Claim("hello-thread-ft-tax",
          "hello: thread CPU us/req, free-threaded vs the same source with the GIL (the tax)",
          "hello", "thread-ft", figure="cpu_us", versus="thread-gil",
          expect="a little more (3.13's HOWTO: up to 40%; 3.14's: 5-10%)"),
    Claim("echo-1k-reactor-ft-tax",
          "echo-1k: reactor CPU us/msg, free-threaded vs the same source with the GIL (the tax)",
          "echo-1k", "reactor-ft", figure="cpu_us", versus="reactor-gil",
          expect="a little more (3.13's HOWTO: up to 40%; 3.14's: 5-10%)"),
    # io-wait: waiting costs an event loop or a greenlet almost nothing
    *(
        Claim(f"io-wait-{model}-efficiency", f"io-wait: {model} efficiency", "io-wait", model,
              figure="efficiency", low=0.9)
        for model in ("gevent", "asyncio", "uvloop", "multiprocess")
    ),
    *(
        Claim(f"io-wait-{model}-efficiency", f"io-wait: {model} efficiency", "io-wait", model,
              figure="efficiency", expect="report")
        for model in ("thread", "fork")
    ),
    # idle: what an idle connection costs, and what it does to the others
    *(
        Claim(f"idle-{model}-kib", f"idle: {model} KiB per idle connection", "idle", model,
              figure="idle_kib", high=limit, needs=("idle_held", IDLE_CONNECTIONS))
        for model, limit in (("asyncio", 6.0), ("uvloop", 6.0), ("gevent", 16.0))
    ),
    *(
        Claim(f"idle-{model}-p99", f"idle: {model} hello p99 with the most idle vs none", "idle",
              model, figure="idle_p99_ratio", high=3.0)
        for model in ("asyncio", "uvloop", "gevent")
    ),
    # churn: the cost of a process, a thread or a greenlet per connection, over the event loop's
    *(
        Claim(f"churn-{model}-beyond-uvloop",
              f"churn: {model} server CPU us per connection beyond uvloop's", "churn", model,
              figure="cpu_us", versus="uvloop", compare="minus", expect=f"about {about:g} us")
        for model, about in (("fork", 750), ("thread", 42), ("gevent", 14))
    ),
    # the pools: a process made once, concurrency bounded by N (Little's law), what people deploy
    Claim("churn-prefork-vs-fork",
          "churn: prefork (processes made once) vs fork (one each), CPU us per connection", "churn",
          "prefork", figure="cpu_us", versus="fork", high=0.2),
    *(
        Claim(f"io-wait-{model}-littles-law",
              f"io-wait: {model} req/s vs N / {IO_WAIT_MS / 1000:g} s (Little's law)", "io-wait",
              model, figure="rps", against="predicted_rps", low=0.9, high=1.1)
        for model in ("prefork", "threadpool")
    ),
    *(
        Claim(f"io-wait-{ref}-littles-law",
              f"io-wait: {ref} req/s vs N / {IO_WAIT_MS / 1000:g} s (Little's law)", "io-wait", ref,
              figure="rps", against="predicted_rps", expect="report")
        for ref in ("ref-gunicorn-sync", "ref-gunicorn-gthread")
    ),
    *(
        Claim(f"hello-{model}-cpu-vs-{ref}", f"hello: {model} CPU us/req vs {ref}", "hello", model,
              figure="cpu_us", versus=ref, high=CPU_TARGETS.get(model), expect="report")
        for model, ref in COUNTERPARTS.items()
    ),
    # io_uring: told when the IO has completed, many operations per system call
    Claim("syscalls-iouring-echo", "syscalls: iouring system calls per echoed message vs uvloop's",
          "syscalls", "iouring", "syscalls", figure="echo-1k", versus="uvloop", high=0.5),
    Claim("syscalls-iouring-hello", "syscalls: iouring system calls per hello request vs uvloop's",
          "syscalls", "iouring", "syscalls", figure="hello", versus="uvloop", expect="report"),
    Claim("echo-1k-iouring-cpu-vs-uvloop", "echo-1k: iouring CPU us/msg vs uvloop's", "echo-1k",
          "iouring", figure="cpu_us", versus="uvloop", high=1.0),
    # the message loop by hand and coroutines by yield, against asyncio
    Claim("hello-reactor-cpu-vs-asyncio", "hello: reactor CPU us/req vs asyncio's", "hello",
          "reactor", figure="cpu_us", versus="asyncio", high=1.3),
    Claim("hello-generators-cpu-vs-reactor", "hello: generators CPU us/req vs reactor's", "hello",
          "generators", figure="cpu_us", versus="reactor", high=1.5),
    Claim("churn-fork-vs-thread", "churn: fork CPU per connection vs thread's", "churn", "fork",
          figure="cpu_us", versus="thread", high=10.0),
    # the GIL as of Python 3.12+: a GIL per subinterpreter, every core in one process (these
    # lines appear in a run on Python 3.13 or newer, where the interpreters model runs)
    Claim("cpu-interpreters-vs-thread",
          "cpu: interpreters (a GIL per subinterpreter) req/s vs thread", "cpu", "interpreters",
          figure="rps", versus="thread", low=1.7),
    Claim("cpu-interpreters-vs-multiprocess", "cpu: interpreters req/s vs multiprocess", "cpu",
          "interpreters", figure="rps", versus="multiprocess", expect="near multiprocess (about 1x)"),
    Claim("cpu-interpreters-cores", "cpu: interpreters uses every core (one process)", "cpu",
          "interpreters", figure="cores", expect="about 2 cores"),
    Claim("hello-interpreters-cpu-vs-reactor",
          "hello: interpreters CPU us/req vs reactor's (the same loop, one interpreter)", "hello",
          "interpreters", figure="cpu_us", versus="reactor", expect="about 1x"),
    Claim("echo-1k-interpreters-cpu-vs-reactor", "echo-1k: interpreters CPU us/msg vs reactor's",
          "echo-1k", "interpreters", figure="cpu_us", versus="reactor", expect="about 1x"),
    # cpu-sweep, cpu-c: pure Python holds the GIL, C code that releases it does not
    Claim("cpu-sweep-thread-one-core", "cpu-sweep: thread on pure Python uses one core (4 clients)",
          "cpu-sweep", "thread", figure="cores", at=4, low=0.9, high=1.1),
    Claim("cpu-c-thread-cores",
          "cpu-c: thread on C code that releases the GIL uses both cores (4 clients)", "cpu-c",
          "thread", figure="cores", at=4, low=1.7),
    # conn-sweep: "the more threads, the bigger the coroutines' advantage"
    *(
        Claim(f"conn-sweep-{model}-growth",
              f"conn-sweep: the coroutines' advantage grows with connections ({model} vs uvloop, "
              "CPU per request)", "conn-sweep", model, "growth", versus="uvloop", at=1000, base=10,
              low=1.2)
        for model in ("thread", "fork")
    ),
    # cpu-sweep: "CPU-bound work wants as many workers as cores"
    *(
        Claim(f"cpu-sweep-{model}-knee", f"cpu-sweep: {model} req/s rises up to the core count, then stops",
              "cpu-sweep", model, "knee")
        for model in ("multiprocess", "prefork", "fork")
    ),
    Claim("cpu-sweep-thread-flat", "cpu-sweep: thread req/s does not rise with threads (the GIL)",
          "cpu-sweep", "thread", "knee", at=1),
    # cpu-c: threads run C code in parallel
    Claim("cpu-c-thread-speedup", "cpu-c: thread req/s with 4 clients vs 1 (C code releases the GIL)",
          "cpu-c", "thread", "speedup", at=4, base=1, low=1.7),
    # gil-switch: "the GIL is released every 100 bytecodes"
    Claim("gil-switch-handover", "gil-switch: the interpreter releases the GIL every 100 bytecodes",
          "gil-switch", "cpython", "handover"),
    *(
        Claim(f"gil-switch-{model}-latency", f"gil-switch: {model} GET / p99 while /cpu keeps other "
              "threads busy, by switch interval", "gil-switch", model, "switch_latency",
              expect="p99 grows with the interval")
        for model in ("thread", "threadpool")
    ),
    # fork-cost: "creating a process is costly", and more so from a larger parent
    Claim("fork-cost-size", "fork-cost: a fork costs more the larger the parent", "fork-cost", "fork",
          "fork_size", low=2.0),
    # rate-sweep, slow-clients: what a capacity planner needs (the loops against the bounded pools)
    Claim("rate-sweep-io-wait-knees",
          "rate-sweep-io-wait: every event loop's knee beyond every bounded pool's (500 connections)",
          "rate-sweep-io-wait", "loops", "knee_order"),
    Claim("slow-clients-pools-hurt",
          "slow-clients: slow clients hurt the bounded pools (prefork, threadpool) far more than loops",
          "slow-clients", "loops", "slow_hurt"),
    # upstream: IO-bound work against a real database (a thread per client against a loop's pool)
    Claim("upstream-connections",
          "upstream: a thread or process per client opens a Redis connection per client, a loop "
          "shares a small pool", "upstream", "thread", "upstream_connections", low=5),
    Claim("upstream-thread-cpu-growth",
          "upstream: thread's CPU per GET /db grows with the clients more than any event loop's",
          "upstream", "thread", "upstream_cpu_growth", low=1.2),
    # threads share variables (the shared-state experiment)
    Claim("shared-counter", "threads share variables: a shared counter needs threading.Lock",
          "shared-state", "thread", "shared_counter"),
)  # fmt: skip

CLAIMS_BY_ID: dict[str, Claim] = {claim.id: claim for claim in CLAIMS}


def judge(results: Results, claims: Sequence[Claim] = CLAIMS) -> list[Verdict]:
    """The verdict of every claim the results answer, in the order of ``claims``."""
    checked = [MEASURES[claim.measure](claim, results) for claim in claims]
    return [v for v in checked if v is not None]
