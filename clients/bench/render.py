"""report.md: the machine, a table per workload, a verdict per claim, the charts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clients.bench.analysis import Verdict, best_rps
from clients.bench.report import (
    PERCENTILES,
    fmt_ms,
    fmt_num,
    fmt_pct,
    fmt_ratio,
    label,
    markdown_table,
)
from clients.bench.workloads import WORKLOADS

LAT_HEADERS = [f"{text} ms" for _, text in PERCENTILES]


def _rps_cell(run: dict[str, Any]) -> str:
    text = fmt_num(run.get("rps"))
    return f">= {text}" if run.get("loader_bound") else text


def _tasks(run: dict[str, Any]) -> str:
    tasks = run.get("server_tasks") or {}
    return f"{tasks.get('processes') or '-'} / {tasks.get('threads') or '-'}"


def workload_table(
    workload: str, runs: Sequence[dict[str, Any]]
) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows for one workload, sorted by throughput."""
    rows_in = sorted(
        (r for r in runs if r["workload"] == workload), key=lambda r: -(best_rps(r) or 0)
    )
    echo = workload.startswith("echo")
    has_wrk = any(r.get("wrk") for r in rows_in)
    headers = ["server", "req/s" if not echo else "msg/s"]
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
        name = label(r["model"]) + (" ⚠" if r.get("flagged") else "")
        if r.get("failed"):
            rows.append(
                [name, "failed: " + str(r["failed"]).splitlines()[0][:80]]
                + [""] * (len(headers) - 2)
            )
            continue
        lat = r.get("latency_ms") or {}
        row = [name, _rps_cell(r)]
        if has_wrk:
            w = r.get("wrk") or {}
            row += [fmt_num(w.get("rps")), fmt_ms((w.get("latency_ms") or {}).get("p99"))]
        if echo:
            row.append(fmt_num(r.get("mib_s"), 1))
        row += [
            fmt_pct(r.get("of_bare")),
            fmt_ratio(r.get("vs_aiohttp")),
            fmt_num(r.get("server_cpu_us_per_req"), 1),
            "-" if r.get("server_cpu_pct") is None else f"{r['server_cpu_pct']:.0f}%",
            *(fmt_ms(lat.get(k)) for k, _ in PERCENTILES),
            fmt_num(r.get("server_rss_mb"), 1),
            _tasks(r),
            "-"
            if r.get("loader_cpu_pct") is None
            else f"{r['loader_cpu_pct']:.0f}%" + (" (bound)" if r.get("loader_bound") else ""),
            fmt_num(r.get("errors")),
        ]
        rows.append(row)
    return headers, rows


def idle_table(runs: Sequence[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
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
    rows = []
    for r in sorted((r for r in runs if r["workload"] == "idle"), key=lambda r: r["model"]):
        idle = r.get("idle") or {}
        if r.get("failed") or not idle:
            rows.append([label(r["model"]), "failed"] + [""] * (len(headers) - 2))
            continue
        limit = idle.get("limit")
        at = (
            "-"
            if not limit
            else (
                f"{limit['held']:,} held of {limit['target']:,} ({limit['refused']} refused, {limit['stalled']} stalled)"
            )
        )
        rows.append(
            [
                label(r["model"]),
                fmt_num(idle.get("max_held")),
                fmt_num(idle.get("per_conn_kib"), 1),
                at,
                fmt_ms(idle.get("p99_ms_none")),
                fmt_ms(idle.get("p99_ms_max")),
                fmt_ratio(idle.get("p99_ratio")),
                fmt_num(r.get("server_pss_mb"), 1),
                _tasks(r),
            ]
        )
    return headers, rows


def _machine(machine: dict[str, Any]) -> str:
    pk = ", ".join(f"{k} {v}" for k, v in (machine.get("packages") or {}).items() if v)
    lines = [
        f"- CPU: {machine.get('cpu_model')} ({machine.get('cpu_count')} CPUs), {machine.get('memory_gib')} GiB RAM",
        f"- System: {machine.get('system')}; {machine.get('python')}",
        f"- Packages: {pk}",
        f"- wrk: {machine.get('wrk') or 'not installed (sudo apt-get install wrk)'}; "
        f"nginx: {machine.get('nginx') or 'not installed (sudo apt-get install nginx-light)'}",
        f"- Placement: {machine.get('placement')}",
        f"- Run: {machine.get('command')}; {machine.get('duration_s')} s measured per run after "
        f"{machine.get('warmup_s')} s warm-up{' (quick)' if machine.get('quick') else ''}; "
        f"`cpu` uses n={machine.get('cpu_n')} (about {machine.get('cpu_ms', 0):.2f} ms per request here)",
        f"- Commit {machine.get('git_commit')}, {machine.get('timestamp')}",
    ]
    return "\n".join(lines) + "\n"


def _worker_cpus(runs: Sequence[dict[str, Any]]) -> str:
    lines = []
    for r in runs:
        if r["model"] == "multiprocess" and r.get("server_cpus_by_pid"):
            cpus = sorted({tuple(v) for v in r["server_cpus_by_pid"].values()})
            procs = len(r["server_cpus_by_pid"])
            lines.append(
                f"`{r['workload']}`: {procs} processes (supervisor, workers, multiprocessing helper) on CPUs "
                f"{'; '.join(','.join(map(str, c)) for c in cpus)}"
            )
    return "\n".join(f"- {line}" for line in lines) + "\n" if lines else ""


def render(
    machine: dict[str, Any],
    runs: Sequence[dict[str, Any]],
    verdicts: Sequence[Verdict],
    charts: Sequence[Path],
    notes: Sequence[str],
) -> str:
    """The whole report.md."""
    out = ["# iomodels benchmark\n", _machine(machine)]
    if notes:
        out.append("\n" + "\n".join(f"> {n}" for n in notes) + "\n")
    out.append(
        "\nThroughput marked `>=` was limited by the load client (its core was saturated): a floor, not "
        "the server's ceiling; CPU us/req (server process tree, reaped children included) stays exact. "
        "References are *in italics* and marked (ref). A ⚠ marks a run with errors. "
        "`of ref-bare` and `vs ref-aiohttp` use wrk's throughput where wrk ran and was faster. "
        "RSS is summed over the process tree, so it overstates what forked children really add "
        "(they share most pages); the idle table uses PSS, which splits shared pages.\n"
    )
    wm = _worker_cpus(runs)
    if wm:
        out.append("\n**multiprocess workers** (one per server CPU):\n\n" + wm)
    out.append("\n## Verdicts\n\n")
    out.append(
        markdown_table(
            ["claim", "target", "measured", "holds"],
            [
                [v.claim, v.target, v.measured, {True: "yes", False: "**no**", None: "-"}[v.holds]]
                for v in verdicts
            ],
            align="llll",
        )
    )
    for name, workload in WORKLOADS.items():
        if not any(r["workload"] == name for r in runs):
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
    if charts:
        out.append("\n## Charts\n\n" + "".join(f"![{p.stem}]({p.name})\n" for p in charts))
    return "".join(out)


def compact(doc: dict[str, Any]) -> str:
    """A short markdown summary of a results.json (the README's Results section)."""
    runs, machine = doc["runs"], doc["machine"]
    out = [
        f"{machine.get('cpu_model')}, {machine.get('cpu_count')} CPUs, {machine.get('python')}; "
        f"{machine.get('placement')}; {machine.get('duration_s')} s per run. "
        f"Regenerate with `{machine.get('command', 'make bench')}`.\n\n"
    ]
    out.append(
        markdown_table(
            ["claim", "target", "measured", "holds"],
            [
                [
                    v["claim"],
                    v["target"],
                    v["measured"],
                    {True: "yes", False: "**no**", None: "-"}[v["holds"]],
                ]
                for v in doc["verdicts"]
            ],
            align="llll",
        )
    )
    for name in WORKLOADS:
        rows_in = sorted(
            (r for r in runs if r["workload"] == name and not r.get("failed")),
            key=lambda r: -(best_rps(r) or 0),
        )
        if not rows_in or name == "idle":
            continue
        wrk = any(r.get("wrk") for r in rows_in)
        headers = [
            "server",
            "req/s",
            *(["wrk req/s"] if wrk else []),
            "CPU us/req",
            "p50 ms",
            "p99 ms",
            "errors",
        ]
        rows = [
            [
                label(r["model"]),
                _rps_cell(r),
                *([fmt_num((r.get("wrk") or {}).get("rps"))] if wrk else []),
                fmt_num(r.get("server_cpu_us_per_req"), 1),
                fmt_ms((r.get("latency_ms") or {}).get("p50")),
                fmt_ms((r.get("latency_ms") or {}).get("p99")),
                fmt_num(r.get("errors")),
            ]
            for r in rows_in
        ]
        out.append(f"\n**{name}** ({WORKLOADS[name].summary})\n\n" + markdown_table(headers, rows))
    if any(r["workload"] == "idle" for r in runs):
        headers, rows = idle_table(runs)
        out.append(
            f"\n**idle** ({WORKLOADS['idle'].summary})\n\n"
            + markdown_table(headers[:7], [r[:7] for r in rows])
        )
    return "".join(out)


if __name__ == "__main__":
    import json
    import sys

    print(compact(json.loads(Path(sys.argv[1]).read_text())))
