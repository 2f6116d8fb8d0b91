"""One driver per IO model. Import them through :mod:`servers.registry`, never directly.

Every driver module exposes ``serve(listener, config, on_ready) -> None``: it
serves ``listener`` until SIGINT/SIGTERM, calls ``on_ready()`` once it accepts,
then drains (in-flight requests finish within ``config.graceful_timeout``) and
returns, leaving no child process behind.
"""
