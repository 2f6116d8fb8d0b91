"""``iomodels serve``: run one server of a chosen IO model in the foreground."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from typing import Any

from common.argtypes import int_range, one_of, seconds
from servers.registry import model_names, models_taking


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=one_of(model_names(), "model"),
        default="asyncio",
        metavar="MODEL",
        help=f"IO model: {', '.join(model_names())} (default: asyncio)",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1; 0.0.0.0 exposes the server)",
    )
    parser.add_argument(
        "--port",
        type=int_range(0, 65535),
        default=8000,
        help="port to bind, 0 for any free port (default 8000)",
    )
    parser.add_argument(
        "--protocol", choices=["http", "echo"], default="http", help="wire protocol (default http)"
    )
    parser.add_argument(
        "--workers",
        type=int_range(1, 1024),
        default=None,
        help=f"{' and '.join(models_taking('--workers'))}: worker processes (interpreters: worker interpreters; threadloops: threads; default: one per CPU)",
    )
    parser.add_argument(
        "--threads",
        type=int_range(1, 4096),
        default=None,
        help=f"{' and '.join(models_taking('--threads'))}: threads in the pool (default 32)",
    )
    parser.add_argument(
        "--max-connections",
        type=int_range(1),
        default=None,
        help="connections served at once (at least 1), beyond which HTTP gets 503 (default: the "
        "model's own cap, fitted to the open-files limit; threadpool: the pool plus its queue, "
        "default 1024; not prefork, whose bound is --workers)",
    )
    parser.add_argument(
        "--allow-crash",
        action="store_true",
        help="enable GET /crash, which kills the serving process by SIGSEGV",
    )
    parser.add_argument(
        "--site-pages",
        type=int_range(1, 10_000_000),
        default=1000,
        help="pages in the synthetic site under /site/ (default 1000)",
    )
    parser.add_argument(
        "--site-latency-ms",
        type=int_range(0, 10_000),
        default=0,
        help="wait this long before each /site/ page (default 0)",
    )
    parser.add_argument(
        "--backlog", type=int_range(1), default=1024, help="listen backlog (default 1024)"
    )
    parser.add_argument(
        "--graceful-timeout",
        type=seconds,
        default=10.0,
        help="seconds in-flight requests get to finish on shutdown (default 10)",
    )
    parser.add_argument(
        "--worker-timeout",
        type=seconds,
        default=30.0,
        help="prefork, multiprocess and interpreters: a worker whose loop has not come round "
        "for this long is hung: a process is killed and replaced, a hung interpreter stops the "
        "server (default 30; keep it above the longest request and timeout)",
    )
    parser.add_argument(
        "--header-timeout",
        type=seconds,
        default=10.0,
        help="seconds from a request's first byte to the end of its headers (default 10)",
    )
    parser.add_argument(
        "--body-timeout",
        type=seconds,
        default=10.0,
        help="longest gap between two pieces of a request body (default 10)",
    )
    parser.add_argument(
        "--keepalive-timeout",
        type=seconds,
        default=5.0,
        help="idle keep-alive connections are closed after this (default 5)",
    )
    parser.add_argument(
        "--max-body",
        type=int_range(0),
        default=1024 * 1024,
        help="largest request body in bytes, beyond which 413 (default 1 MiB)",
    )
    parser.add_argument(
        "--upstream",
        type=upstream_url,
        default=None,
        metavar="URL",
        help="the Redis GET /db reads: redis://HOST:PORT, unix:///PATH, or 'redis' to start "
        "a private redis-server, seeded, for this server's life (default: none, /db answers 503)",
    )
    parser.add_argument(
        "--upstream-timeout",
        type=seconds,
        default=2.0,
        help="seconds one GET /db may take upstream, beyond which 504 (default 2)",
    )
    parser.add_argument(
        "--upstream-pool",
        type=int_range(1, 10_000),
        default=10,
        help="upstream connections per event loop or per gevent hub (default 10); "
        "the other models hold one per thread or process",
    )
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="stderr log level",
    )
    parser.add_argument(
        "--switch-interval",
        type=switch_interval_ms,
        default=None,
        metavar="MS",
        help="how often (ms) CPython asks the thread holding the GIL to let another run: "
        "sys.setswitchinterval for this process and the children it forks (default: the "
        "interpreter's, 5 ms); it matters only where threads run Python",
    )


def upstream_url(text: str) -> str:
    """``redis://HOST:PORT``, ``unix:///PATH``, or ``redis`` (start one)."""
    from servers.protocol.upstream import parse_url

    if text == "redis":
        return text
    try:
        parse_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def switch_interval_ms(text: str) -> float:
    """A GIL switch interval in milliseconds, in (0, 1000]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if not 0 < value <= 1000:
        raise argparse.ArgumentTypeError(
            f"{value:g} is out of range: use milliseconds in (0, 1000]"
        )
    return value


def config_from_args(args: argparse.Namespace):  # -> ServerConfig
    from servers.protocol.config import Limits, ServerConfig
    from servers.protocol.upstream import UpstreamConfig

    limits = Limits(
        max_body=args.max_body,
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keepalive_timeout=args.keepalive_timeout,
    )
    return ServerConfig(
        model=args.model,
        host=args.host,
        port=args.port,
        protocol=args.protocol,
        workers=args.workers or 0,
        threads=args.threads or 0,
        max_connections=args.max_connections or 0,
        allow_crash=args.allow_crash,
        site_pages=args.site_pages,
        site_latency_ms=args.site_latency_ms,
        backlog=args.backlog,
        graceful_timeout=args.graceful_timeout,
        upstream=None
        if args.upstream is None
        else UpstreamConfig(args.upstream, args.upstream_timeout, args.upstream_pool),
        worker_timeout=args.worker_timeout,
        limits=limits,
    )


def run(args: argparse.Namespace) -> int:
    from servers.gil import watch_gil
    from servers.registry import SIZING_FLAGS, UnknownModel, ignored_flag, load_model

    watch_gil()

    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s",
    )
    log = logging.getLogger("iomodels.serve")
    try:
        driver = load_model(args.model)
    except UnknownModel as exc:
        print(f"iomodels serve: error: {exc}", file=sys.stderr)
        return 2
    given = [f for f in SIZING_FLAGS if getattr(args, f[2:].replace("-", "_")) is not None]
    refused = ignored_flag(args.model, given)
    if refused:
        print(f"iomodels serve: error: {refused}", file=sys.stderr)
        return 2
    with contextlib.ExitStack() as stack:
        if args.upstream == "redis":
            from common.redis_server import RedisMissing, RedisServer

            try:
                args.upstream = stack.enter_context(RedisServer()).url
            except RedisMissing as exc:
                print(f"iomodels serve: error: {exc}", file=sys.stderr)
                return 2
            log.warning("GET /db reads a private redis-server at %s", args.upstream)
        return _serve(args, driver, log)


def _serve(args: argparse.Namespace, driver: Any, log: logging.Logger) -> int:
    from servers.gil import gil_state
    from servers.listener import bind_error, bind_listener, ready_line

    config = config_from_args(args)
    if config.allow_crash:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # crashes are on purpose: no core files
        log.warning("GET /crash is ENABLED: any client can kill the serving process")
    try:
        listener = bind_listener(config.host, config.port, config.backlog)
    except OSError as exc:
        print(
            f"iomodels serve: error: {bind_error(config.host, config.port, exc)}", file=sys.stderr
        )
        return 2
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval / 1000)
    line = ready_line(listener, config.protocol, config.model)

    def on_ready() -> None:
        # the GIL state once the model has imported what it needs (a worker thread may import late)
        sys.stdout.write(f"{line} gil={gil_state()}\n")
        sys.stdout.flush()

    driver.serve(listener, config, on_ready)
    return 0
