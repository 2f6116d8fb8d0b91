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

from clients.bench.analysis import Verdict
from clients.bench.records import Run
from clients.bench.workloads import WORKLOADS
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
            fmt_pct(r.of_bare),
            fmt_ratio(r.vs_aiohttp),
            fmt_num(r.server_cpu_us_per_req, 1),
            "-" if r.server_cpu_pct is None else f"{r.server_cpu_pct:.0f}%",
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
        if r.model == model and r.server_cpus_by_pid:
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
        [[v.claim, v.target, v.measured, HOLDS[v.holds], v.how] for v in verdicts],
        align="lllll",
    )


def render(
    machine: dict[str, Any],
    runs: Sequence[Run],
    verdicts: Sequence[Verdict],
    charts: Mapping[str, Sequence[str]],
    notes: Sequence[str],
    *,
    title: str = "iomodels benchmark",
    preface: str = "",
) -> str:
    """A whole page: report.md of a run, or a docs page.

    Args:
        charts: workload -> links to its PNG charts, relative to the page (shown under its table).
        title: the page's heading.
        preface: a paragraph under the heading (a docs page says how it was made).
    """
    out = [f"# {title}\n\n"]
    if preface:
        out.append(preface.rstrip() + "\n\n")
    out.append(machine_lines(machine))
    if notes:
        out.append("\n" + "\n".join(f"> {n}" for n in notes) + "\n")
    out.append("\n" + LEGEND)
    out.append(worker_placement(runs))
    out.append("\n## Verdicts\n\n" + verdict_table(verdicts))
    for name, workload in WORKLOADS.items():
        if not any(r.workload == name for r in runs):
            continue
        out.append(f"\n## {name}\n\n{workload.summary}.\n\n")
        if name == "idle":
            out.append(markdown_table(*idle_table(runs)))
            out.append(
                "\nPer-connection memory is the growth of the tree's PSS from 0 to the largest step "
                "the server held completely, divided by the connections held.\n"
            )
        else:
            out.append(markdown_table(*workload_table(name, runs)))
        if charts.get(name):
            out.append("\n" + "".join(f"![{_stem(c)}]({c})\n" for c in charts[name]))
    return "".join(out)


def _stem(link: str) -> str:
    return link.rsplit("/", 1)[-1].removesuffix(".png")
