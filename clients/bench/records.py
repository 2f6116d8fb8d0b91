"""The bench's results as typed records: one :class:`Run` per (workload, target).

A record turns into the JSON of ``results.json`` with :meth:`Run.to_dict` and
back with :meth:`Run.from_dict`; reading ignores keys it does not know, so a
results file written by an older or newer bench still renders.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from clients.bench.placement import Placement

T = TypeVar("T")

#: a tree's PSS moves by about this much (KiB) with no connection at all: smaller growth says nothing
PSS_NOISE_KIB = 1024


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build dataclass ``cls`` from ``data``, nested records included; unknown keys are ignored."""
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name in data:
            kwargs[f.name] = _value(hints[f.name], data[f.name])
    return cls(**kwargs)


def _value(hint: Any, value: Any) -> Any:
    """``value`` as ``hint`` says: a record from a dict, a list of records from a list."""
    if value is None:
        return None
    if isinstance(hint, types.UnionType):  # ``X | None``
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if dataclasses.is_dataclass(hint) and isinstance(value, dict):
        return from_dict(hint, value)  # type: ignore[arg-type]
    if typing.get_origin(hint) is list:
        (item,) = typing.get_args(hint)
        return [_value(item, v) for v in value]
    if typing.get_origin(hint) is tuple:
        return tuple(value)
    return value


@dataclass
class Latency:
    """Latency percentiles in milliseconds (``None`` where there were no requests)."""

    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    p999: float | None = None
    max: float | None = None
    mean: float | None = None

    def get(self, key: str) -> float | None:
        """The percentile named ``key`` (``"p99"``...)."""
        value = getattr(self, key, None)
        return None if value is None else float(value)


@dataclass
class Tasks:
    """Peak processes and threads of the server's tree."""

    processes: int | None = None
    threads: int | None = None


@dataclass
class WrkFigures:
    """The same HTTP load from wrk, a C client: a cross-check of our client's figures."""

    rps: float | None = None
    latency_ms: Latency = field(default_factory=Latency)
    errors: int = 0
    requests: int | None = None
    server_cpu_us_per_req: float | None = None
    failed: str | None = None


@dataclass
class Probe:
    """The short hello run at one idle step."""

    rps: float = 0.0
    latency_ms: Latency = field(default_factory=Latency)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)


@dataclass
class IdleStep:
    """One step of the idle workload: connections asked for and held, and the server then.

    ``refused`` (error status or reset), ``closed`` (closed before answering),
    ``stalled`` (no answer in time), ``connect`` (could not connect) and
    ``dropped`` (held, then lost before the probe) are the connections that failed.
    """

    target: int
    held: int
    refused: int = 0
    closed: int = 0
    stalled: int = 0
    connect: int = 0
    dropped: int = 0
    open_s: float | None = None
    held_after_probe: int | None = None
    probe: Probe = field(default_factory=Probe)
    pss_mb: float | None = None
    rss_mb: float | None = None
    processes: int | None = None
    threads: int | None = None

    @property
    def failures(self) -> int:
        return self.refused + self.closed + self.stalled + self.connect + self.dropped


@dataclass
class IdleLimit:
    """The first step the server did not hold completely."""

    target: int
    held: int
    refused: int
    stalled: int
    dropped: int


@dataclass
class IdleSummary:
    """The idle workload's figures: memory per connection, the limit, latency with none and with the most."""

    steps: list[IdleStep] = field(default_factory=list)
    max_held: int = 0
    per_conn_kib: float | None = None
    limit: IdleLimit | None = None
    p99_ms_none: float | None = None
    p99_ms_max: float | None = None
    p99_ratio: float | None = None


@dataclass
class HandOver:
    """Two CPU-bound threads at one GIL switch interval: how long each held the GIL in turn."""

    interval_ms: float
    handovers: int = 0
    median_ms: float | None = None
    p99_ms: float | None = None
    #: bytecodes one thread ran between taking the GIL and handing it over (median)
    bytecodes: float | None = None


@dataclass
class HandOvers:
    """The ``gil-switch`` experiment: hand-overs at each switch interval, and the interpreter's default."""

    default_interval_ms: float = 0.0
    bytecodes_per_iteration: float | None = None
    steps: list[HandOver] = field(default_factory=list)
    #: each spinner had a CPU of its own (so the scheduler did not time the hand-overs)
    own_cpus: bool = False


@dataclass
class ForkSize:
    """Forks of one parent size: CPU (parent and child) and the child's minor page faults per fork.

    ``cpu_ms`` and ``faults`` are for a child that exits at once; ``touch_*``
    for a child that first reads every object of the parent (reference
    counting writes to each: every page holding one is copied).
    """

    label: str
    rss_mib: float
    forks: int
    cpu_ms: float
    parent_ms: float
    faults: float
    touch_cpu_ms: float | None = None
    touch_faults: float | None = None


@dataclass
class SyscallFigures:
    """System calls per request, counted with ``strace -c -f`` over a fixed number of requests.

    ``per_request`` and ``top`` are keyed by the counting's workload (``echo-1k``:
    per echoed message; ``hello``: per ``GET /``); ``top`` names the most
    frequent calls with how many each request made.
    """

    requests: int = 0
    per_request: dict[str, float] = field(default_factory=dict)
    top: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class ForkCost:
    """The ``fork-cost`` experiment: a parent of each size forking children."""

    sizes: list[ForkSize] = field(default_factory=list)


@dataclass
class Experiments:
    """The records of the experiments beside the matrix (:mod:`clients.bench.experiments`).

    Attributes:
        gil_switch, fork_cost, shared_state: each experiment's record (None: not run).
        syscalls: by model.
        upstream: the rows of ``clients.bench.upstream`` (``UpstreamResult`` as dicts; None: not run).
        failed: why an experiment measured nothing, by its name.
    """

    gil_switch: HandOvers | None = None
    fork_cost: ForkCost | None = None
    shared_state: dict[str, Any] | None = None
    syscalls: dict[str, SyscallFigures] = field(default_factory=dict)
    upstream: list[dict[str, Any]] | None = None
    failed: dict[str, str] = field(default_factory=dict)


@dataclass
class RateStep:
    """One open-loop run of a rate sweep: offered and achieved req/s (2xx answers), latencies
    timed from when each request should have gone out (corrected for coordinated omission)."""

    offered: float
    achieved: float = 0.0
    requests: int = 0
    latency_ms: Latency = field(default_factory=Latency)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    server_cpu_pct: float | None = None
    loader_cpu_pct: float | None = None


@dataclass
class RateCurve:
    """A rate sweep: the closed-loop capacity, then open-loop steps at shares of it.

    ``knee_rps`` and ``slo_rps`` are offered rates (see :mod:`clients.bench.capacity`);
    None when not even the lowest rate held.
    """

    capacity_rps: float | None = None
    steps: list[RateStep] = field(default_factory=list)
    knee_rps: float | None = None
    slo_rps: float | None = None


@dataclass
class SlowStep:
    """The fast clients with ``slow`` slow clients beside them, and what the slow ones got."""

    slow: int
    fast_rps: float = 0.0
    fast_latency_ms: Latency = field(default_factory=Latency)
    fast_errors: int = 0
    fast_error_kinds: dict[str, int] = field(default_factory=dict)
    slow_connected: int = 0
    slow_held: int = 0
    slow_rps: float = 0.0
    slow_latency_ms: Latency = field(default_factory=Latency)
    slow_closed: int = 0
    slow_refused: int = 0
    server_cpu_pct: float | None = None
    loader_cpu_pct: float | None = None


@dataclass
class SlowSweep:
    """The ``slow-clients`` steps of one model, fewest slow clients first."""

    steps: list[SlowStep] = field(default_factory=list)


@dataclass
class Run:
    """One workload against one fresh server: what the load client, the sampler and wrk measured.

    ``rps`` is our load client's figure, a floor when ``loader_bound`` (its core
    was saturated); ``wrk`` holds wrk's figures where it ran. A run of a curve
    has its ``point`` (the x); ``refused`` counts the answers that were not 2xx
    (a model at its cap answers 503). Figures that compare runs (a ratio to a
    reference) are read from the runs when shown, never stored here.
    """

    model: str
    workload: str
    reference: bool = False
    point: float | None = None
    connections: int = 0
    placement: Placement | None = None
    server_cpus_by_pid: dict[str, list[int]] = field(default_factory=dict)
    rps: float | None = None
    mib_s: float | None = None
    requests: int | None = None
    duration_s: float | None = None
    latency_ms: Latency | None = None
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    retried: int = 0
    server_cpu_us_per_req: float | None = None
    server_cpu_pct: float | None = None
    server_rss_mb: float | None = None
    server_pss_mb: float | None = None
    server_tasks: Tasks = field(default_factory=Tasks)
    server_minflt_per_req: float | None = None
    conn_kib: float | None = None
    refused: int = 0
    background_rps: float | None = None
    loader_cpu_pct: float | None = None
    loader_bound: bool = False
    connected: int | None = None
    wrk: WrkFigures | None = None
    idle: IdleSummary | None = None
    rate_curve: RateCurve | None = None
    slow_sweep: SlowSweep | None = None
    ideal_rps: float | None = None
    efficiency: float | None = None
    failed: str | None = None
    flagged: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Run:
        return from_dict(cls, data)

    @property
    def ok(self) -> bool:
        """The run measured something (it did not fail)."""
        return self.failed is None

    def best_rps(self) -> float | None:
        """The higher of our client's and wrk's throughput (our client may be the limit); None if failed."""
        if not self.ok:
            return None
        theirs = self.wrk.rps if self.wrk else None
        if theirs and (not self.rps or theirs > self.rps):
            return float(theirs)
        return self.rps

    def cpu_us(self) -> float | None:
        """Server CPU microseconds per request (per message, per connection for churn)."""
        return self.server_cpu_us_per_req if self.ok else None

    def memory_per_connection(self) -> float | None:
        """``conn_kib``, when the growth it comes from is larger than PSS moves by itself."""
        if self.conn_kib is None or self.conn_kib * self.connections < PSS_NOISE_KIB:
            return None
        return self.conn_kib

    def served_rps(self) -> float | None:
        """Our client's req/s of 2xx answers only (a refusal at a cap is no service); None if failed."""
        if not self.ok or self.rps is None:
            return None
        if not self.refused or not self.requests:
            return self.rps
        return self.rps * max(0, self.requests - self.refused) / self.requests


#: a run by (workload, model), or (workload, model, point) for a point of a curve: see :func:`key`
Key = tuple[str, str] | tuple[str, str, float]


def key(workload: str, model: str, point: float | None = None) -> Key:
    """The key of a run among others: a run of a curve is one of its points."""
    return (workload, model) if point is None else (workload, model, point)


@dataclass(frozen=True)
class Verdict:
    """One claim checked in numbers: ``holds`` is None when it is only reported, or the figures are missing.

    ``claim`` is the claim's text and ``id`` its name in :data:`clients.bench.claims.CLAIMS`.
    ``label`` replaces yes/no in the report where a word says more ("outdated").
    ``value``, ``theirs`` and ``result`` are the numbers behind ``measured`` (the
    claim's figure, what it is compared with, the ratio or difference judged),
    where its measure has them; ``numbers`` more named figures, for the pages that quote them.
    """

    claim: str
    target: str
    measured: str
    holds: bool | None
    how: str = ""
    label: str = ""
    id: str = ""
    value: float | None = None
    theirs: float | None = None
    result: float | None = None
    numbers: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
