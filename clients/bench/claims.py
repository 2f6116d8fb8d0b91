"""The claims the bench checks, as data: what is claimed, which figure of which runs, the target.

Each :class:`Claim` names a figure of :data:`clients.bench.analysis.FIGURES`
(which says how it is measured) for one model on one workload (at one point of
its curve), optionally against a second model (a ratio, or a difference), and
its bounds. One function, :func:`clients.bench.analysis.verdict`, reads any of
them. Each :class:`CurveClaim` is about the shape of a curve, or the figures of
a probe, and names the check of :data:`clients.bench.analysis.CURVE_CHECKS`
that reads it. A claim whose runs are not in the results is left out of the report.
"""

from __future__ import annotations

from dataclasses import dataclass

from clients.bench.predictions import COUNTERPARTS, CPU_TARGETS
from clients.bench.workloads import IO_WAIT_MS, KIND_REFERENCE


@dataclass(frozen=True)
class Claim:
    """One claim in numbers.

    Attributes:
        text: the claim as the report states it.
        workload: the workload whose runs answer it.
        model: the run measured.
        figure: a key of :data:`clients.bench.analysis.FIGURES`.
        versus: a second run on the same workload: the figure is compared with its own.
        against: a second figure of the same run to compare with (a prediction).
        compare: ``"ratio"`` (model / versus) or ``"minus"`` (model - versus).
        low, high: bounds the result must lie within (none: reported, not judged).
        expect: what to expect, for a claim that is reported rather than judged.
        needs: ``(figure, minimum)``: below it the run says too little for a pass
            to count (a failure still counts).
    """

    text: str
    workload: str
    model: str
    figure: str
    versus: str | None = None
    compare: str = "ratio"
    low: float | None = None
    high: float | None = None
    expect: str = ""
    needs: tuple[str, float] | None = None
    against: str | None = None
    at: float | None = None


@dataclass(frozen=True)
class CurveClaim:
    """A claim about a curve's shape or a probe's figures.

    Attributes:
        text: the claim as the report states it.
        workload: the workload whose runs answer it.
        check: a key of :data:`clients.bench.analysis.CURVE_CHECKS` (how it is read).
        model: the curve (or probe) measured.
        versus: a second curve, for a check that compares two.
        at, base: the points the check compares (``at`` against ``base``).
        low: the bound the result must reach (none: reported, not judged).
        expect: what to expect, for a claim that is reported rather than judged.
    """

    text: str
    workload: str
    check: str
    model: str
    versus: str | None = None
    at: float | None = None
    base: float | None = None
    low: float | None = None
    expect: str = ""


#: idle connections that a per-connection memory figure must be measured at
IDLE_CONNECTIONS = 10_000

#: Models whose pool serves fewer connections at once than echo-1k opens (one worker per server CPU).
POOLED_ONE_AT_A_TIME = ("prefork",)

CLAIMS: tuple[Claim, ...] = (
    Claim("hello: uvloop req/s vs ref-aiohttp", "hello", "uvloop", "rps", "ref-aiohttp", low=1.6),
    Claim("hello: uvloop CPU us/req vs ref-aiohttp", "hello", "uvloop", "cpu_us", "ref-aiohttp",
          high=0.6),
    Claim("hello: asyncio req/s vs aiohttp.web on the stdlib loop", "hello", "asyncio", "rps",
          "ref-aiohttp-stdlib", low=1.4),
    Claim("hello: uvloop req/s vs ref-bare", "hello", "uvloop", "rps", "ref-bare", low=0.5),
    # echo-1k: each model's CPU per message against the minimal server of its kind; prefork's one
    # worker (one per server CPU) serves one of the 10 connections at a time, a message per wake-up,
    # while the reference forks a process for each: reported, since the two do not do the same work
    *(
        Claim(f"echo-1k: {model} CPU us/msg vs {ref}", "echo-1k", model, "cpu_us", ref,
              high=None if model in POOLED_ONE_AT_A_TIME else 1.3,
              expect="one worker serves one connection at a time; the other 9 wait"
              if model in POOLED_ONE_AT_A_TIME else "")
        for model, ref in KIND_REFERENCE.items()
    ),
    # cpu: the GIL
    Claim("cpu: multiprocess req/s vs thread", "cpu", "multiprocess", "rps", "thread", low=1.7),
    Claim("cpu: thread uses one core (the GIL)", "cpu", "thread", "cores", low=0.9, high=1.1),
    # io-wait: waiting costs an event loop or a greenlet almost nothing
    *(
        Claim(f"io-wait: {model} efficiency", "io-wait", model, "efficiency", low=0.9)
        for model in ("gevent", "asyncio", "uvloop", "multiprocess")
    ),
    *(
        Claim(f"io-wait: {model} efficiency", "io-wait", model, "efficiency", expect="report")
        for model in ("thread", "fork")
    ),
    # idle: what an idle connection costs, and what it does to the others
    *(
        Claim(f"idle: {model} KiB per idle connection", "idle", model, "idle_kib", high=limit,
              needs=("idle_held", IDLE_CONNECTIONS))
        for model, limit in (("asyncio", 6.0), ("uvloop", 6.0), ("gevent", 16.0))
    ),
    *(
        Claim(f"idle: {model} hello p99 with the most idle vs none", "idle", model,
              "idle_p99_ratio", high=3.0)
        for model in ("asyncio", "uvloop", "gevent")
    ),
    # churn: the cost of a process, a thread or a greenlet per connection, over the event loop's
    *(
        Claim(f"churn: {model} server CPU us per connection beyond uvloop's", "churn", model,
              "cpu_us", "uvloop", compare="minus", expect=f"about {about:g} us")
        for model, about in (("fork", 750), ("thread", 42), ("gevent", 14))
    ),
    # the pools: a process made once, concurrency bounded by N (Little's law), what people deploy
    Claim("churn: prefork (processes made once) vs fork (one each), CPU us per connection", "churn",
          "prefork", "cpu_us", "fork", high=0.2),
    *(
        Claim(f"io-wait: {model} req/s vs N / {IO_WAIT_MS / 1000:g} s (Little's law)", "io-wait", model,
              "rps", against="predicted_rps", low=0.9, high=1.1)
        for model in ("prefork", "threadpool")
    ),
    *(
        Claim(f"io-wait: {ref} req/s vs N / {IO_WAIT_MS / 1000:g} s (Little's law)", "io-wait", ref,
              "rps", against="predicted_rps", expect="report")
        for ref in ("ref-gunicorn-sync", "ref-gunicorn-gthread")
    ),
    *(
        Claim(f"hello: {model} CPU us/req vs {ref}", "hello", model, "cpu_us", ref,
              high=CPU_TARGETS.get(model), expect="report")
        for model, ref in COUNTERPARTS.items()
    ),
    # io_uring: told when the IO has completed, many operations per system call
    Claim("syscalls: iouring system calls per echoed message vs uvloop's", "syscalls", "iouring",
          "syscalls_echo", "uvloop", high=0.5),
    Claim("syscalls: iouring system calls per hello request vs uvloop's", "syscalls", "iouring",
          "syscalls_hello", "uvloop", expect="report"),
    Claim("echo-1k: iouring CPU us/msg vs uvloop's", "echo-1k", "iouring", "cpu_us", "uvloop",
          high=1.0),
    # the message loop by hand and coroutines by yield, against asyncio
    Claim("hello: reactor CPU us/req vs asyncio's", "hello", "reactor", "cpu_us", "asyncio",
          high=1.3),
    Claim("hello: generators CPU us/req vs reactor's", "hello", "generators", "cpu_us", "reactor",
          high=1.5),
    Claim("churn: fork CPU per connection vs thread's", "churn", "fork", "cpu_us", "thread",
          high=10.0),
    # the GIL as of Python 3.12+: a GIL per subinterpreter, every core in one process (these
    # lines appear in a run on Python 3.13 or newer, where the interpreters model runs)
    Claim("cpu: interpreters (a GIL per subinterpreter) req/s vs thread", "cpu", "interpreters",
          "rps", "thread", low=1.7),
    Claim("cpu: interpreters req/s vs multiprocess", "cpu", "interpreters", "rps", "multiprocess",
          expect="near multiprocess (about 1x)"),
    Claim("cpu: interpreters uses every core (one process)", "cpu", "interpreters", "cores",
          expect="about 2 cores"),
    Claim("hello: interpreters CPU us/req vs reactor's (the same loop, one interpreter)", "hello",
          "interpreters", "cpu_us", "reactor", expect="about 1x"),
    Claim("echo-1k: interpreters CPU us/msg vs reactor's", "echo-1k", "interpreters", "cpu_us",
          "reactor", expect="about 1x"),
    # cpu-sweep, cpu-c: pure Python holds the GIL, C code that releases it does not
    Claim("cpu-sweep: thread on pure Python uses one core (4 clients)", "cpu-sweep", "thread",
          "cores", at=4, low=0.9, high=1.1),
    Claim("cpu-c: thread on C code that releases the GIL uses both cores (4 clients)", "cpu-c",
          "thread", "cores", at=4, low=1.7),
)  # fmt: skip

#: a curve has stopped rising at the first point within this share of its highest
KNEE_SHARE = 0.9

CURVE_CLAIMS: tuple[CurveClaim, ...] = (
    # conn-sweep: "the more threads, the bigger the coroutines' advantage"
    *(
        CurveClaim(f"conn-sweep: the coroutines' advantage grows with connections ({model} vs uvloop, "
                   "CPU per request)", "conn-sweep", "growth", model, "uvloop", at=1000, base=10,
                   low=1.2)
        for model in ("thread", "fork")
    ),
    # cpu-sweep: "CPU-bound work wants as many workers as cores"
    *(
        CurveClaim(f"cpu-sweep: {model} req/s rises up to the core count, then stops",
                   "cpu-sweep", "knee", model)
        for model in ("multiprocess", "prefork", "fork")
    ),
    CurveClaim("cpu-sweep: thread req/s does not rise with threads (the GIL)", "cpu-sweep", "knee",
               "thread", at=1),
    # cpu-c: threads run C code in parallel
    CurveClaim("cpu-c: thread req/s with 4 clients vs 1 (C code releases the GIL)", "cpu-c",
               "speedup", "thread", at=4, base=1, low=1.7),
    # gil-switch: "the GIL is released every 100 bytecodes"
    CurveClaim("gil-switch: the interpreter releases the GIL every 100 bytecodes", "gil-switch",
               "handover", "cpython"),
    *(
        CurveClaim(f"gil-switch: {model} GET / p99 while /cpu keeps other threads busy, by switch "
                   "interval", "gil-switch", "switch_latency", model,
                   expect="p99 grows with the interval")
        for model in ("thread", "threadpool")
    ),
    # fork-cost: "creating a process is costly", and more so from a larger parent
    CurveClaim("fork-cost: a fork costs more the larger the parent", "fork-cost", "fork_size",
               "fork", low=2.0),
)  # fmt: skip
