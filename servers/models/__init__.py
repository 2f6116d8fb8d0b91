"""One driver per IO model. Import them through :mod:`servers.registry`, never directly.

Every driver module exposes ``serve(listener, config, on_ready) -> None`` and
reads top to bottom as: listen, accept the model's way, serve a connection the
model's way, drain. It calls ``on_ready()`` once it accepts, serves until
SIGINT/SIGTERM, then drains through :meth:`servers.lifecycle.Lifecycle.drain`
(in-flight requests finish within ``config.graceful_timeout``, a second signal
ends the wait) and returns, leaving no child process behind.

Shared by the drivers: :mod:`~servers.models._blocking` (the blocking pump and
accept loop), :mod:`~servers.models._aio` (the asyncio protocol driver),
:mod:`~servers.models._closing` (lingering close, refusals at the cap),
:mod:`~servers.models._crash` (the CRASH action) and :mod:`~servers.models._fds`
(caps that fit the open-file limit).
"""
