"""The bench's markdown: report.md of a run, or a docs page (``docs/results.md``) from its results.json.

Both open with where the figures come from (commit, date, machine, command),
then the legend, the verdicts, a table per workload and the charts. The rows of
a workload's table and the bars of its charts come in the same order
(:func:`ordered`), and show the same figures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from clients.bench import capacity_report, upstream_report
from clients.bench.experiments import EXPERIMENTS
from clients.bench.measures import index, of_reference
from clients.bench.records import (
    PSS_NOISE_KIB,
    Experiments,
    ForkCost,
    HandOvers,
    Run,
    SyscallFigures,
    Verdict,
)
from clients.bench.workloads import WORKLOADS, conn_sweep_wait_ms
from reporting.formats import PERCENTILES, fmt_floor, fmt_ms, fmt_num, fmt_pct, fmt_ratio
from reporting.provenance import Provenance, markdown_lines
from reporting.tables import label, markdown_table

LAT_HEADERS = [f"{text} ms" for _, text in PERCENTILES]
HOLDS = {True: "yes", False: "**no**", None: "-"}

LEGEND = (
    "Throughput marked `>=` was limited by the load client (its core was saturated): a floor, not "
    "the server's ceiling; the charts hatch those bars and label them `≥`. The req/s column and the "
    "bars are our load client's; where wrk (a C client) ran, its figure has its own column and is a "
    "black diamond in the chart. `of ref-bare` and `vs ref-aiohttp` compare the higher of the two. "
    "CPU us/req (the server's process tree, reaped children included) stays exact when the loader "
    "is the limit. References are *in italics* and marked (ref). A ⚠ marks a run with errors. "
    "RSS is summed over the process tree, so it overstates what forked children really add "
    "(they share most pages); the idle table uses PSS, which splits shared pages.\n"
)


def ordered(workload: str, runs: Sequence[Run]) -> list[Run]:
    """The runs of ``workload``, fastest first (the higher of the two clients' req/s): tables and charts."""
    return sorted((r for r in runs if r.workload == workload), key=lambda r: -(r.best_rps() or 0))


def _tasks(run: Run) -> str:
    return f"{run.server_tasks.processes or '-'} / {run.server_tasks.threads or '-'}"


def _failed_row(name: str, run: Run, width: int) -> list[Any]:
    return [name, "failed: " + str(run.failed).splitlines()[0][:80]] + [""] * (width - 2)


def workload_table(workload: str, runs: Sequence[Run]) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows for one workload, in :func:`ordered` order."""
    rows_in = ordered(workload, runs)
    by = index(runs)
    echo = workload.startswith("echo")
    has_wrk = any(r.wrk for r in rows_in)
    headers = ["server", "msg/s" if echo else "req/s"]
    if has_wrk:
        headers += ["wrk req/s", "wrk p99 ms"]
    if echo:
        headers.append("MiB/s")
    headers += [
        "of ref-bare",
        "vs ref-aiohttp",
        "CPU us/req",
        "server CPU",
        "minor faults/req",
        *LAT_HEADERS,
        "RSS MiB",
        "procs / threads",
        "loader CPU",
        "errors",
    ]
    rows: list[list[Any]] = []
    for r in rows_in:
        name = label(r.model) + (" ⚠" if r.flagged else "")
        if not r.ok:
            rows.append(_failed_row(name, r, len(headers)))
            continue
        lat = r.latency_ms
        row = [name, fmt_floor(r.rps, r.loader_bound)]
        if has_wrk:
            row += [
                fmt_num(r.wrk.rps if r.wrk else None),
                fmt_ms(r.wrk.latency_ms.get("p99") if r.wrk else None),
            ]
        if echo:
            row.append(fmt_num(r.mib_s, 1))
        row += [
            fmt_pct(of_reference(r, by, "ref-bare")),
            fmt_ratio(of_reference(r, by, "ref-aiohttp")),
            fmt_num(r.server_cpu_us_per_req, 1),
            "-" if r.server_cpu_pct is None else f"{r.server_cpu_pct:.0f}%",
            fmt_num(r.server_minflt_per_req, 1),
            *(fmt_ms(lat.get(k) if lat else None) for k, _ in PERCENTILES),
            fmt_num(r.server_rss_mb, 1),
            _tasks(r),
            "-"
            if r.loader_cpu_pct is None
            else f"{r.loader_cpu_pct:.0f}%" + (" (bound)" if r.loader_bound else ""),
            fmt_num(r.errors),
        ]
        rows.append(row)
    return headers, rows


def idle_table(runs: Sequence[Run]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "server",
        "held (max clean step)",
        "KiB / connection",
        "refuses or stalls at",
        "hello p99 ms, none idle",
        "hello p99 ms, max idle",
        "ratio",
        "PSS MiB",
        "procs / threads",
    ]
    rows: list[list[Any]] = []
    for r in sorted((r for r in runs if r.workload == "idle"), key=lambda r: r.model):
        idle = r.idle
        if not r.ok or idle is None:
            rows.append([label(r.model), "failed"] + [""] * (len(headers) - 2))
            continue
        limit = idle.limit
        at = (
            "-"
            if limit is None
            else f"{limit.held:,} held of {limit.target:,} "
            f"({limit.refused} refused, {limit.stalled} stalled)"
        )
        rows.append(
            [
                label(r.model),
                fmt_num(idle.max_held),
                fmt_num(idle.per_conn_kib, 1),
                at,
                fmt_ms(idle.p99_ms_none),
                fmt_ms(idle.p99_ms_max),
                fmt_ratio(idle.p99_ratio),
                fmt_num(r.server_pss_mb, 1),
                _tasks(r),
            ]
        )
    return headers, rows


def machine_lines(machine: dict[str, Any]) -> str:
    """Commit, date and machine (shared by every report), then the bench's tools and run."""
    lines = markdown_lines(Provenance.from_dict(machine))
    lines += [
        f"- wrk: {machine.get('wrk') or 'not installed (sudo apt-get install wrk)'}; "
        f"nginx: {machine.get('nginx') or 'not installed (sudo apt-get install nginx-light)'}",
        f"- Placement: {machine.get('placement')}",
        f"- Run: `{machine.get('command')}`; {machine.get('duration_s')} s measured per run after "
        f"{machine.get('warmup_s')} s warm-up{' (quick)' if machine.get('quick') else ''}; "
        f"`cpu` uses n={machine.get('cpu_n')} (about {machine.get('cpu_ms') or 0:.2f} ms per request here)",
    ]
    return "\n".join(lines) + "\n"


def worker_placement(runs: Sequence[Run], model: str = "multiprocess") -> str:
    """Where ``model``'s processes ran: said once, then only the workloads that differ."""
    seen: dict[str, str] = {}
    for r in runs:
        if r.model == model and r.server_cpus_by_pid and r.point is None:
            cpus = sorted({tuple(v) for v in r.server_cpus_by_pid.values()})
            on = "; ".join(",".join(map(str, c)) for c in cpus)
            seen[r.workload] = f"{len(r.server_cpus_by_pid)} processes on CPUs {on}"
    if not seen:
        return ""
    usual, _ = Counter(seen.values()).most_common(1)[0]
    others = [f"- `{w}`: {text}" for w, text in seen.items() if text != usual]
    head = (
        f"\n**{model} workers** (one per server CPU; the supervisor and multiprocessing's helper "
        f"count as processes too): {usual}"
    )
    if not others:
        return head + " in every workload.\n"
    return head + " in every workload but:\n\n" + "\n".join(others) + "\n"


def verdict_table(verdicts: Sequence[Verdict]) -> str:
    return markdown_table(
        ["claim", "target", "measured", "holds", "how measured"],
        [[v.claim, v.target, v.measured, _holds(v), v.how] for v in verdicts],
        align="lllll",
    )


def _holds(v: Verdict) -> str:
    if v.label:
        return v.label if v.holds is not False else f"**{v.label}**"
    return HOLDS[v.holds]


def curve_table(workload: str, runs: Sequence[Run]) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of a curve: a row per model and point, models in the order they ran."""
    known = WORKLOADS[workload]
    rows_in = [r for r in runs if r.workload == workload and r.point is not None]
    ideal = any(r.ideal_rps for r in rows_in)
    memory = known.conn_memory
    background = any(r.background_rps is not None for r in rows_in)
    headers = ["server", known.axis, "req/s (2xx)"]
    headers += ["of ideal"] if ideal else []
    headers += ["CPU us/req", "server CPU", "p50 ms", "p99 ms"]
    headers += ["p99 above the wait ms", "KiB / connection"] if memory else []
    headers += ["/cpu req/s (background)"] if background else []
    headers += ["not 2xx", "procs / threads", "loader CPU", "errors"]
    models = list(dict.fromkeys(r.model for r in rows_in))
    rows: list[list[Any]] = []
    for model in models:
        for r in sorted((r for r in rows_in if r.model == model), key=lambda r: r.point or 0.0):
            name = label(model) + (" ⚠" if r.flagged else "")
            if not r.ok:
                rows.append(_failed_row(name, r, len(headers)))
                continue
            p99 = r.latency_ms.get("p99") if r.latency_ms else None
            row = [name, f"{r.point:,g}", fmt_floor(r.served_rps(), r.loader_bound)]
            row += [fmt_pct(r.efficiency)] if ideal else []
            row += [
                fmt_num(r.server_cpu_us_per_req, 1),
                "-" if r.server_cpu_pct is None else f"{r.server_cpu_pct / 100:.2f} cores",
                fmt_ms(r.latency_ms.get("p50") if r.latency_ms else None),
                fmt_ms(p99),
            ]
            if memory:
                above = None if p99 is None else p99 - conn_sweep_wait_ms(r.point or 0)
                refusing = r.refused > 0
                row += [fmt_ms(above), "refuses" if refusing else _per_connection(r)]
            row += [fmt_num(r.background_rps)] if background else []
            row += [
                fmt_num(r.refused),
                _tasks(r),
                "-" if r.loader_cpu_pct is None else f"{r.loader_cpu_pct:.0f}%",
                fmt_num(r.errors),
            ]
            rows.append(row)
    return headers, rows


def _per_connection(run: Run) -> str:
    """KiB per connection, or a bound when the growth is within what PSS moves by itself."""
    if run.conn_kib is None or not run.connections:
        return "-"
    kib = run.memory_per_connection()
    return fmt_num(kib, 1) if kib is not None else f"< {PSS_NOISE_KIB / run.connections:,.1f}"


def handover_table(probe: HandOvers | None) -> str:
    """The gil-switch experiment: how long a thread held the GIL at each switch interval."""
    if probe is None:
        return ""
    rows = [
        [
            f"{s.interval_ms:g}",
            fmt_num(s.handovers),
            fmt_ms(s.median_ms),
            fmt_ms(s.p99_ms),
            fmt_num(s.bytecodes),
        ]
        for s in probe.steps
    ]
    where = "each on a CPU of its own" if probe.own_cpus else "sharing one CPU"
    head = (
        f"Two CPU-bound threads, {where} (default switch interval "
        f"{probe.default_interval_ms:g} ms; one spin of their loop is "
        f"{fmt_num(probe.bytecodes_per_iteration, 1)} bytecodes):\n\n"
    )
    return head + markdown_table(
        ["switch interval ms", "hand-overs", "held ms (median)", "held ms (p99)", "bytecodes held"],
        rows,
    )


def syscalls_table(counts: Mapping[str, SyscallFigures]) -> tuple[list[str], list[list[str]]]:
    """The syscalls experiment: calls per echoed message and per hello request, by model."""
    header = [
        "server",
        "per echo-1k message",
        "per hello request",
        "most frequent (echo-1k)",
        "most frequent (hello)",
        "requests counted",
    ]
    rows = []
    for model, figures in counts.items():
        per = [figures.per_request.get(w) for w in ("echo-1k", "hello")]
        rows.append(
            [
                model,
                *("n/a" if v is None else f"{v:.2f}" for v in per),
                *(", ".join(figures.top.get(w, [])) or "-" for w in ("echo-1k", "hello")),
                f"{figures.requests:,}",
            ]
        )
    return header, rows


def fork_cost_table(cost: ForkCost | None) -> str:
    """The fork-cost experiment: CPU and faults per fork, by parent size."""
    if cost is None:
        return ""
    rows = [
        [
            s.label,
            fmt_num(s.rss_mib, 1),
            fmt_num(s.forks),
            fmt_num(s.cpu_ms * 1000, 0),
            fmt_num(s.parent_ms * 1000, 0),
            fmt_num(s.faults, 0),
            fmt_num(None if s.touch_cpu_ms is None else s.touch_cpu_ms * 1000, 0),
            fmt_num(s.touch_faults, 0),
        ]
        for s in sorted(cost.sizes, key=lambda s: s.rss_mib)
    ]
    return markdown_table(
        [
            "parent",
            "RSS MiB",
            "forks",
            "CPU us / fork",
            "of which parent",
            "child's minor faults",
            "CPU us, child reading every object",
            "its minor faults",
        ],
        rows,
        align="lrrrrrrr",
    )


def _failed(experiment: str, found: Experiments) -> str:
    """A line for the experiment if it failed."""
    why = found.failed.get(experiment)
    return (
        "" if why is None else f"\n> {experiment} experiment failed: {why.splitlines()[0][:200]}\n"
    )


#: what a curve's or a probe's section says under its table
CURVE_NOTES = {
    "conn-sweep": "Each point is a fresh server. `not 2xx` counts the 503s of a model at its "
    "connection cap (a refusing point is hollow in the charts); memory per connection is the "
    "growth of the tree's PSS from before the load to all connections open, divided by them.\n",
    "cpu-sweep": "Process models get `--workers N` and N clients; the thread and fork models "
    "get N clients, so N threads or processes. The server has every CPU.\n",
    "cpu-c": "The same server for 1 and 4 clients of SHA-256 in C (hashlib lets go of the GIL "
    "above 2 KiB); compare the `cpu` workloads, where pure Python holds it.\n",
    "gil-switch": "Then the thread models served `GET /` while other clients kept `/cpu` busy, "
    "with `iomodels serve --switch-interval MS`.\n",
}


def render(
    machine: dict[str, Any],
    runs: Sequence[Run],
    verdicts: Sequence[Verdict],
    charts: Mapping[str, Sequence[str]],
    notes: Sequence[str],
    *,
    experiments: Experiments | None = None,
    title: str = "iomodels benchmark",
    preface: str = "",
) -> str:
    """A whole page: report.md of a run, or a docs page.

    Args:
        charts: workload -> links to its PNG charts, relative to the page (shown under its table).
        title: the page's heading.
        preface: a paragraph under the heading (a docs page says how it was made).
    """
    found = experiments or Experiments()
    out = [f"# {title}\n\n"]
    if preface:
        out.append(preface.rstrip() + "\n\n")
    out.append(machine_lines(machine) + references_line(runs))
    if notes:
        out.append("\n" + "\n".join(f"> {n}" for n in notes) + "\n")
    out.append("\n" + LEGEND)
    out.append(worker_placement(runs))
    out.append("\n## Verdicts\n\n" + verdict_table(verdicts))
    for name, workload in WORKLOADS.items():
        ran = any(r.workload == name for r in runs)
        if name == "gil-switch" and not ran and (found.gil_switch or "gil-switch" in found.failed):
            ran = True  # the experiment beside it ran
        if not ran:
            continue
        out.append(f"\n## {name}\n\n{workload.summary}.\n\n")
        if workload.curve:
            if name == "gil-switch":
                out.append(_failed(name, found) + handover_table(found.gil_switch) + "\n")
            out.append(CURVE_NOTES.get(name, "") + "\n")
            out.append(markdown_table(*curve_table(name, runs)))
        elif workload.mode == "rate-sweep":
            out.append(capacity_report.RATE_NOTE + "\n")
            out.append(markdown_table(*capacity_report.knee_table(name, runs)) + "\n")
            out.append(markdown_table(*capacity_report.rate_table(name, runs)))
        elif workload.mode == "slow-clients":
            out.append(capacity_report.SLOW_NOTE + "\n")
            out.append(markdown_table(*capacity_report.slow_table(runs)))
        elif name == "idle":
            out.append(markdown_table(*idle_table(runs)))
            out.append(
                "\nPer-connection memory is the growth of the tree's PSS from 0 to the largest step "
                "the server held completely, divided by the connections held.\n"
            )
        else:
            out.append(markdown_table(*workload_table(name, runs)))
        out.append(_chart_links(charts.get(name)))
    records = {"syscalls": found.syscalls, "fork-cost": found.fork_cost, "upstream": found.upstream}
    for name, record in records.items():
        if not record and name not in found.failed:
            continue
        out.append(f"\n## {name}\n\n{EXPERIMENTS[name].summary}.\n\n" + _failed(name, found))
        if name == "syscalls":
            out.append(markdown_table(*syscalls_table(found.syscalls)))
        elif name == "upstream":
            out.append(upstream_report.NOTE + "\n\n")
            out.append(markdown_table(*upstream_report.table(found.upstream or [])))
        else:
            out.append(fork_cost_table(found.fork_cost))
        out.append(_chart_links(charts.get(name)))
    out.append(error_kinds(runs))
    return "".join(out)


def references_line(runs: Sequence[Run]) -> str:
    """Which reference servers joined the models: the bench adds each workload's own unless told not to."""
    names = list(dict.fromkeys(r.model for r in runs if r.reference))
    if not names:
        return "- References: none measured (`--no-references`, or no workload here has any)\n"
    return (
        "- References: each workload's reference servers ran beside the models (the bench adds "
        f"them unless `--no-references`): {', '.join(names)}\n"
    )


def error_kinds(runs: Sequence[Run]) -> str:
    """What each kind of error counted in these runs means, and the runs that counted it."""
    from clients.loadgen.state import ERROR_KINDS

    seen: dict[str, list[str]] = {}
    for r in runs:
        for kind, count in r.error_kinds.items():
            if count:
                seen.setdefault(kind, []).append(f"{r.workload} {r.model} {fmt_num(count)}")
    retried = [f"{r.workload} {r.model} {fmt_num(r.retried)}" for r in runs if r.retried]
    lines = ["\n## Errors by kind\n\n"] if seen else []
    for kind, where in seen.items():
        meaning = ERROR_KINDS.get(kind, "not a kind the load client counts (see docs/benchmark.md)")
        lines.append(f"- `{kind}`: {meaning}. Counted by: {', '.join(where)}\n")
    if retried:
        lines.append(
            "\nRetried, not errors: requests an idle keep-alive close crossed (a pool letting a "
            "quiet connection go), sent again on a new connection as RFC 9112 section 9.3.1 "
            f"allows: {', '.join(retried)}\n"
        )
    return "".join(lines)


def _chart_links(links: Sequence[str] | None) -> str:
    return "\n" + "".join(f"![{_stem(c)}]({c})\n" for c in links) if links else ""


def _stem(link: str) -> str:
    return link.rsplit("/", 1)[-1].removesuffix(".png")
