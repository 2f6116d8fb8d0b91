"""Reference servers the benchmark measures beside the models (each marked ``ref-*``).

* :mod:`~clients.references.bare`: a minimal Protocol server that answers without parsing
  (uvloop: the ceiling for Python here; stdlib loop: the minimal asyncio echo server);
* :mod:`~clients.references.aiohttp_app`: aiohttp.web with the same routes (what a user would pick);
* :mod:`~clients.references.echo_kinds`: minimal echo servers per kind (gevent, thread, fork);
* :mod:`~clients.references.nginx`: nginx with a generated config (when installed).

Each prints the same ready line as ``iomodels serve``, so ``ServerProcess`` can drive them.
"""
