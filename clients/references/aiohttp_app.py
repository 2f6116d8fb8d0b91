"""``ref-aiohttp``: an aiohttp.web app with the suite's routes, on uvloop (or the stdlib loop).

What a user would write instead of iomodels: ``GET /``, ``POST /echo``, ``GET /io?ms=N``,
``GET /cpu?n=N`` (the same pure-Python work as the models).
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

from clients.references.common import listen, ready, run_on_loop
from servers.protocol.cpu import cpu_work


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="Hello, World!")


async def echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read(), content_type="application/octet-stream")


async def io_wait(request: web.Request) -> web.Response:
    ms = int(request.query.get("ms", "0"))
    await asyncio.sleep(ms / 1000)
    return web.Response(text=f"waited {ms} ms\n")


async def cpu(request: web.Request) -> web.Response:
    return web.Response(body=cpu_work(int(request.query.get("n", "10000"))))


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_post("/echo", echo)
    app.router.add_get("/io", io_wait)
    app.router.add_get("/cpu", cpu)
    return app


async def serve(args: object) -> None:
    sock = listen(args.host, args.port)  # type: ignore[attr-defined]
    runner = web.AppRunner(make_app(), access_log=None, handle_signals=False)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    ready(sock, "http", args.name)  # type: ignore[attr-defined]
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    run_on_loop(serve, __doc__ or "")


if __name__ == "__main__":
    main()
