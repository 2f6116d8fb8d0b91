"""The upstream round trips of ``GET /db``, one module per way of doing IO.

The core describes a query (:class:`servers.protocol.effects.Query`) and
parses the replies (:class:`servers.protocol.upstream.Exchange`); these modules
only move its bytes, each the way its models do IO, and own the connections:

* :mod:`.blocking`: blocking sockets, a connection per thread (thread, fork,
  prefork, threadpool: one per connection, child, worker or pool thread);
  :class:`.blocking.PooledSockets` is the same code on gevent's sockets, a
  bounded pool shared by the greenlets;
* :mod:`.transports`: asyncio's transports, a bounded pool per loop (asyncio,
  uvloop, each multiprocess worker);
* :mod:`.handloop`: the hand-made loop's callbacks, a bounded pool (reactor,
  generators);
* the ring's own operations in ``servers.models.iouring``.

:class:`.slots.Slots` is the bounded pool the loops share: idle connections,
how many are open, who waits; a query that waits longer than the upstream
timeout for a connection is answered 503.
"""
