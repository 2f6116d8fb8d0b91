"""``ref-nginx``: nginx, one worker, answering ``GET /`` from its config (the native ceiling).

Writes a config into a temporary directory (bound to 127.0.0.1 on a free port),
runs ``nginx -g 'daemon off;'`` as its child, prints the ready line once nginx
accepts, and stops nginx on SIGTERM. Needs the ``nginx`` binary
(``sudo apt-get install nginx-light``); :func:`available` says whether it is there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from clients.references.common import parser

CONFIG = """\
worker_processes 1;
worker_rlimit_nofile 30000;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 20000; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 3600s;
    server_tokens off;
    server {{
        listen {host}:{port} backlog=1024;
        location = / {{ default_type text/plain; return 200 "Hello, World!"; }}
    }}
}}
"""


def binary() -> str | None:
    """The nginx executable, or None."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def available() -> bool:
    return binary() is not None


def free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    exe = binary()
    if exe is None:
        print(
            "ref-nginx: nginx is not installed (sudo apt-get install nginx-light)", file=sys.stderr
        )
        raise SystemExit(2)
    port = args.port or free_port(args.host)
    with tempfile.TemporaryDirectory(prefix="iomodels-nginx-") as tmp:
        os.chmod(tmp, 0o755)
        user = "user nobody nogroup;" if os.geteuid() == 0 else ""
        conf = Path(tmp, "nginx.conf")
        conf.write_text(CONFIG.format(dir=tmp, host=args.host, port=port, user=user))
        proc = subprocess.Popen(
            [exe, "-p", tmp, "-c", str(conf), "-e", f"{tmp}/error.log", "-g", "daemon off;"]
        )
        signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        signal.signal(signal.SIGINT, lambda *_: proc.terminate())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection((args.host, port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.02)
        if proc.poll() is not None:
            print(Path(tmp, "error.log").read_text(errors="replace"), file=sys.stderr)
            raise SystemExit(1)
        sys.stdout.write(
            f"listening on http://{args.host}:{port} model={args.name} pid={os.getpid()}\n"
        )
        sys.stdout.flush()
        proc.wait()


if __name__ == "__main__":
    main()
