"""Our own load client: asyncio on uvloop, fast enough to find the servers' limits.

* closed loop: a fixed number of connections, each sending its next request as
  soon as the previous answer arrives (optionally ``pipeline`` requests at once);
* open loop: a constant request rate, latency measured from when each request
  *should* have been sent, which corrects coordinated omission (as wrk2 does);
* HTTP/1.1 keep-alive, a new connection per request (``churn``), or raw echo;
* slow clients beside the load (``--slow-clients``: a few bytes at a time, a small
  receive window; :mod:`clients.loadgen.slow_clients`), reported apart from it;
* every latency recorded in an HDR histogram (microsecond resolution).

``python -m clients.loadgen --help`` (or ``iomodels load``) runs it from the shell;
:func:`clients.loadgen.runner.run_load` runs a :class:`clients.loadgen.config.LoadConfig`
from Python. This package module imports nothing itself: importing the command
line's module (:mod:`clients.loadgen.cli`) loads neither asyncio nor hdrh.
"""
