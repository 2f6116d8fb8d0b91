"""Server configuration and protocol limits (plain data, picklable for spawned workers)."""

from __future__ import annotations

from dataclasses import dataclass, field

from servers.protocol.upstream import UpstreamConfig

#: Largest ``n`` accepted by ``GET /cpu?n=N`` (about a quarter of a second of pure Python).
CPU_N_MAX = 5_000_000
#: Largest ``kb`` accepted by ``GET /hash?kb=N`` (64 MiB: some tens of ms of SHA-256).
HASH_KB_MAX = 64 * 1024
#: Largest ``ms`` accepted by ``GET /io?ms=N``.
IO_MS_MAX = 10_000


@dataclass(frozen=True, slots=True)
class Limits:
    """Every size and time limit the protocol core enforces (all on by default)."""

    max_request_line: int = 8 * 1024  # longer request line -> 414
    max_header_line: int = 8 * 1024  # longer header field line -> 431
    max_header_count: int = 100  # more header fields -> 431
    max_body: int = 1024 * 1024  # longer request body -> 413
    max_chunk_line: int = 1024  # longer chunk-size line -> 400
    header_timeout: float = 10.0  # first byte of a request to the end of its headers -> 408
    body_timeout: float = 10.0  # longest gap between two pieces of a body -> 408
    keepalive_timeout: float = 5.0  # idle keep-alive connection is closed after this


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What ``iomodels serve`` was asked for; handed unchanged to every driver and worker."""

    model: str = "asyncio"
    host: str = "127.0.0.1"
    port: int = 8000
    protocol: str = "http"  # "http" or "echo"
    workers: int = 0  # multiprocess and prefork; 0 means one per CPU
    threads: int = 0  # threadpool only; 0 means its default pool (32)
    max_connections: int = 0  # 0 means the model's default
    allow_crash: bool = False
    site_pages: int = 1000
    site_latency_ms: int = 0
    backlog: int = 1024
    graceful_timeout: float = 10.0
    #: ``GET /db``'s upstream (None: the route answers 503, no upstream configured)
    upstream: UpstreamConfig | None = None
    worker_timeout: float = 30.0  # supervised models: a worker silent this long is hung
    limits: Limits = field(default_factory=Limits)
