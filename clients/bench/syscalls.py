"""System calls per request, per model: counted with ``strace -c -f`` over a fixed number of requests.

Readiness models (asyncio, uvloop, a hand-made reactor) make at least one
system call per read and one per write, plus a share of each ``epoll_wait``.
A completion model (io_uring) queues reads and writes in a ring and hands
them over, many at a time, in one ``io_uring_enter``. Counting shows it.

How: start the server, open the connections and send one request on each
(so the accepts are not counted), attach ``strace -c -f`` to every process of
the server, send exactly ``requests`` requests (``echo-1k``: 1 KiB messages,
each read back whole; ``hello``: ``GET /`` on keep-alive), detach, read the
summary. A tracer slows every system call down a lot, so this counts and
never times; the slower server may also batch more per wait than it would
untraced, which flatters every model that batches (epoll_wait's share and
io_uring_enter's alike).

Usage::

    python -m clients.bench.syscalls --models asyncio,uvloop,iouring \\
        --workloads hello,echo-1k --requests 20000

With ``--out DIR`` it writes ``DIR/syscalls.json`` (the bench's experiment: by model,
calls per request and the most frequent calls of each workload).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from servers.launcher import ServerProcess
from servers.registry import MODELS, unavailable

#: The models compared by default: readiness (reactor, asyncio, uvloop) against completion.
DEFAULT_MODELS = ("reactor", "asyncio", "uvloop", "iouring")


@dataclass(frozen=True)
class Workload:
    """What the client sends: the bench's workload of the same name, in miniature."""

    name: str
    protocol: str
    connections: int
    unit: str
    size: int = 0


WORKLOADS = {
    w.name: w
    for w in (
        Workload("echo-1k", "echo", 10, "echoed message", size=1024),
        Workload("hello", "http", 50, "request"),
    )
}
_HELLO = b"GET / HTTP/1.1\r\nHost: iomodels\r\n\r\n"


@dataclass(frozen=True)
class SyscallCount:
    """The system calls one server made while serving ``requests`` requests."""

    model: str
    workload: str
    requests: int
    calls: dict[str, int] = field(default_factory=dict)  # per system call name

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    @property
    def per_request(self) -> float:
        return self.total / self.requests

    def top(self, count: int = 3) -> list[tuple[str, float]]:
        """The most frequent system calls, with how many each request made."""
        ranked = sorted(self.calls.items(), key=lambda item: -item[1])[:count]
        return [(name, calls / self.requests) for name, calls in ranked]

    def to_dict(self) -> dict[str, object]:
        return {
            "model": self.model,
            "workload": self.workload,
            "requests": self.requests,
            "syscalls": self.total,
            "per_request": round(self.per_request, 3),
            "calls": self.calls,
        }


class StraceError(RuntimeError):
    """strace is missing, or could not attach to the server."""


def count_syscalls(
    model: str, workload: str, requests: int, server_cpus: Sequence[int] | None = None
) -> SyscallCount:
    """Count the system calls ``model``'s server makes to serve ``requests`` of ``workload``.

    Raises:
        ValueError: an unknown workload, or fewer requests than connections.
        StraceError: strace is missing or cannot attach (ptrace not permitted).
    """
    spec = WORKLOADS.get(workload)
    if spec is None:
        raise ValueError(f"unknown workload {workload!r}; choose from {', '.join(WORKLOADS)}")
    if requests < spec.connections:
        raise ValueError(f"{requests} requests: at least {spec.connections} (one per connection)")
    strace = shutil.which("strace")
    if strace is None:
        raise StraceError("strace not found (apt-get install strace)")
    with ServerProcess(model, spec.protocol, cpus=server_cpus) as server:
        return asyncio.run(_count(strace, server, spec, requests))


async def _count(strace: str, server: ServerProcess, spec: Workload, requests: int) -> SyscallCount:
    streams = [
        await asyncio.open_connection("127.0.0.1", server.port) for _ in range(spec.connections)
    ]
    try:
        await asyncio.gather(*(_exchange(spec, *pair, 1) for pair in streams))  # warm-up
        with tempfile.TemporaryDirectory(prefix="iomodels-strace-") as tmp:
            summary = Path(tmp) / "summary.txt"
            tracer = await asyncio.to_thread(_attach, strace, server, summary)
            share, extra = divmod(requests, spec.connections)
            await asyncio.gather(
                *(_exchange(spec, *pair, share + (i < extra)) for i, pair in enumerate(streams))
            )
            tracer.send_signal(signal.SIGINT)  # detach and write the summary
            await asyncio.to_thread(tracer.wait, 30)
            calls = parse_summary(summary.read_text())
    finally:
        for _, writer in streams:
            writer.close()
    return SyscallCount(server.model, spec.name, requests, calls)


def _attach(strace: str, server: ServerProcess, summary: Path) -> subprocess.Popen[str]:
    """Start ``strace -c -f`` on every process of the server; return once every thread is traced."""
    threads = sum(_traceable_threads(p.pid) for p in server.tree())
    pids = [arg for p in server.tree() for arg in ("-p", str(p.pid))]
    tracer = subprocess.Popen(
        [strace, "-c", "-f", "-o", str(summary), *pids],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert tracer.stderr is not None
    attached, deadline, lines = 0, time.monotonic() + 10, []
    while attached < threads:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([tracer.stderr], [], [], remaining)[0]:
            break
        line = tracer.stderr.readline()
        if not line:
            break
        lines.append(line.strip())
        attached += "attached" in line
    if attached < threads:
        tracer.kill()
        tracer.wait()
        raise StraceError(f"strace could not attach to the server: {' '.join(lines)[-300:]}")
    return tracer


def _traceable_threads(pid: int) -> int:
    """Threads of ``pid`` that strace can attach to (not io_uring's kernel workers, ``iou-*``)."""
    count = 0
    for comm in Path(f"/proc/{pid}/task").glob("*/comm"):
        try:
            count += not comm.read_text().startswith("iou-")
        except OSError:  # the thread has just ended
            pass
    return count


async def _exchange(
    spec: Workload, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, count: int
) -> None:
    """``count`` request-response exchanges, one after another, on one connection."""
    message = b"x" * spec.size
    for _ in range(count):
        if spec.protocol == "echo":
            writer.write(message)
            await reader.readexactly(spec.size)
        else:
            writer.write(_HELLO)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.lower().split(b"\r\n")
                if line.startswith(b"content-length:")
            )
            await reader.readexactly(length)


def parse_summary(text: str) -> dict[str, int]:
    """``strace -c`` summary text -> calls per system call name (the ``total`` row left out)."""
    calls: dict[str, int] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[3].isdigit() or fields[-1] == "total":
            continue
        calls[fields[-1]] = calls.get(fields[-1], 0) + int(fields[3])
    return calls


def to_markdown(counts: Sequence[SyscallCount]) -> str:
    """The counts as a Markdown table, one row per model and workload."""
    rows = [
        "| model | workload | requests | system calls | per request | most frequent (per request) |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for c in counts:
        top = ", ".join(f"{name} {per:.2f}" for name, per in c.top())
        rows.append(
            f"| {c.model} | {c.workload} | {c.requests:,} | {c.total:,} | {c.per_request:.2f} | {top} |"
        )
    units = sorted({f"{w.name}: per {w.unit}" for w in WORKLOADS.values()})
    return "\n".join(rows) + f"\n\n'per request' is {'; '.join(units)}.\n"


def _names(text: str, known: Sequence[str], what: str) -> list[str]:
    chosen = [name for name in text.replace(",", " ").split() if name]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)}; choose from {', '.join(known)}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m clients.bench.syscalls",
        description="count each model's system calls per request with strace -c -f",
    )
    parser.add_argument(
        "--models",
        default=",".join(DEFAULT_MODELS),
        help=f"comma-separated models (default: {','.join(DEFAULT_MODELS)}, those registered)",
    )
    parser.add_argument(
        "--workloads", default=",".join(WORKLOADS), help="comma-separated: echo-1k, hello"
    )
    parser.add_argument("--requests", type=int, default=20_000, help="requests per count (20000)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--out", help="write syscalls.json into this folder (the bench's record)")
    args = parser.parse_args(argv)
    try:
        wanted = _names(args.models, list(dict.fromkeys([*MODELS, *DEFAULT_MODELS])), "model(s)")
        workloads = _names(args.workloads, list(WORKLOADS), "workload(s)")
        if args.requests < 1:
            raise ValueError(f"--requests {args.requests}: must be at least 1")
    except ValueError as exc:
        parser.error(str(exc))
    models = []
    for name in wanted:
        reason = unavailable(name) if name in MODELS else "not registered in this tree"
        if reason is None:
            models.append(name)
        else:
            print(f"{name}: skipped ({reason})", file=sys.stderr)
    counts = []
    try:
        for workload in workloads:
            for model in models:
                count = count_syscalls(model, workload, args.requests, _server_cpus())
                counts.append(count)
                if args.json:
                    print(json.dumps(count.to_dict()), flush=True)
    except (StraceError, ValueError) as exc:
        print(f"syscalls: error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        from clients.bench.experiments import write

        write(args.out, "syscalls", by_model(counts))
    elif not args.json:
        print(to_markdown(counts), end="")
    return 0


def by_model(counts: Sequence[SyscallCount]) -> dict[str, dict[str, Any]]:
    """The counts as the bench keeps them: by model, per request and the top calls by workload."""
    models: dict[str, dict[str, Any]] = {}
    for count in counts:
        figures = models.setdefault(
            count.model, {"requests": count.requests, "per_request": {}, "top": {}}
        )
        figures["per_request"][count.workload] = round(count.per_request, 3)
        figures["top"][count.workload] = [f"{call} {per:.2f}" for call, per in count.top()]
    return models


def _server_cpus() -> list[int] | None:
    """The bench's placement: the server alone on the first CPU, when there are two or more."""
    cpus = sorted(psutil.Process().cpu_affinity() or [])
    return cpus[:1] if len(cpus) > 1 else None


if __name__ == "__main__":
    sys.exit(main())
