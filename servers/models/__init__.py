"""One driver per IO model, each imported lazily by :mod:`servers.registry` when chosen.

A server process imports only its own model's driver (importing gevent, uvloop or
liburing must never leak into another model's process), so the rest of the project
names models through the registry; only the tests import a driver's helpers directly.

Every driver module exposes ``serve(listener, config, on_ready) -> None`` and
reads top to bottom as: listen, accept the model's way, serve a connection the
model's way, drain. It calls ``on_ready()`` once it accepts, serves until
SIGINT/SIGTERM, then drains through :meth:`servers.lifecycle.Lifecycle.drain`
(in-flight requests finish within ``config.graceful_timeout``, a second signal
ends the wait) and returns, leaving no child process behind. Each enforces the
core's deadlines (header, body, keep-alive) within milliseconds: kernel socket
timeouts in the blocking models, a timer per connection in the others.

Where to start reading: :mod:`~servers.models.threaded` (a thread per connection,
the shortest), then :mod:`~servers.models._blocking`, which it shares with fork,
prefork, threadpool and gevent; :mod:`~servers.models.asyncio_loop` with
:mod:`~servers.models._aio` for the event loops; :mod:`~servers.models.reactor`
for an event loop with nothing hidden.

Shared by the drivers: :mod:`~servers.models._blocking` (the blocking pump and
accept loop), :mod:`~servers.models._aio` (the asyncio protocol driver, also run by each thread of
threadloops),
:mod:`~servers.models._closing` (lingering close, refusals at the cap, the send
timeout), :mod:`~servers.models._crash` (the CRASH action),
:mod:`~servers.models._fds` (caps that fit the open-file limit, backing off an
accept that ran out), :mod:`~servers.models._ring` (io_uring through liburing,
for iouring) and :mod:`~servers.models._interpreter_worker` (what runs inside
each subinterpreter of the interpreters model).
"""
