"""``iomodels locust``: a server of one model and Locust's web UI aimed at it (Ctrl-C stops both)."""

from __future__ import annotations

import argparse
import errno
import socket
import sys

from loadtests.cli_common import add_scenario_args, classes_of, extra_args


def configure(parser: argparse.ArgumentParser) -> None:
    add_scenario_args(parser)
    parser.add_argument(
        "--web-port", type=int, default=8089, help="the web UI's port (on 127.0.0.1; default 8089)"
    )


def web_port_error(port: int, host: str = "127.0.0.1") -> str:
    """Why the web UI could not listen on ``port`` (in one line), or "" when it can."""
    from servers.listener import bind_error

    try:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (
                f"cannot listen on {host}:{port}: port {port} is already in use: "
                "pick another --web-port (make locust WEB_PORT=...)"
            )
        return bind_error(host, port, exc)
    return ""


def run(args: argparse.Namespace) -> int:
    from loadtests.launch import LocustRun, run_locust, sigterm_as_interrupt, target_server

    if why := web_port_error(args.web_port):
        print(f"iomodels locust: error: {why}", file=sys.stderr)
        return 2

    with sigterm_as_interrupt():
        try:
            with target_server(args.model, args.protocol, args.host, args.server_arg) as (
                url,
                server,
            ):
                spec = LocustRun(
                    host=url,
                    classes=classes_of(args),
                    headless=False,
                    users=args.users,
                    spawn_rate=args.spawn_rate,
                    processes=args.processes,
                    web_port=args.web_port,
                    server_pid=server.pid if server else 0,
                    extra=extra_args(args),
                )
                what = f"{args.model} server (pid {server.pid})" if server else "the given host"
                print(f"target: {url}, {what}", flush=True)
                print(
                    f"Locust web UI: http://127.0.0.1:{args.web_port}  (Ctrl-C stops Locust and the server)",
                    flush=True,
                )
                return run_locust(spec.command())
        except KeyboardInterrupt:
            print("stopped: Locust and the server are down", flush=True)
            return 0
