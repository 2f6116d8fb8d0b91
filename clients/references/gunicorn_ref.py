"""``ref-gunicorn-*``: gunicorn serving :mod:`clients.references.wsgi_app`.

The production forms of three models: sync workers (prefork: N processes, one
connection each, no keep-alive, so every request is a new connection), gthread
(a thread pool per worker, idle keep-alive connections parked in a poller) and
gevent (a greenlet per connection). The socket is bound here (port 0 works) and
handed to gunicorn as ``fd://N``; the ready line is printed by gunicorn's
``when_ready`` hook. gunicorn's arbiter runs in this process, so SIGTERM is its
graceful stop. Needs the ``references`` extra (``pip install -e '.[references]'``).
"""

from __future__ import annotations

import sys
from typing import Any

from gunicorn.app.base import BaseApplication

from clients.references.common import listen, parser
from clients.references.wsgi_app import app
from servers.listener import ready_line

#: Our models' defaults, so that only the architecture differs.
KEEPALIVE_S = 5
GRACEFUL_TIMEOUT_S = 10
BACKLOG = 1024


class Reference(BaseApplication):  # type: ignore[misc]
    """gunicorn configured in code: no command line, no config file."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.settings.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return app


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--worker-class", choices=["sync", "gthread", "gevent"], default="sync")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=1, help="gthread: threads per worker")
    args = p.parse_args()
    sock = listen(args.host, args.port, BACKLOG)
    line = ready_line(sock, "http", args.name)

    def when_ready(server: Any) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    Reference(
        {
            "bind": [f"fd://{sock.detach()}"],  # gunicorn owns the socket from here
            "worker_class": args.worker_class,
            "workers": args.workers,
            "threads": args.threads,
            "keepalive": KEEPALIVE_S,
            "graceful_timeout": GRACEFUL_TIMEOUT_S,
            "backlog": BACKLOG,
            "loglevel": "warning",
            "when_ready": when_ready,
        }
    ).run()


if __name__ == "__main__":
    main()
