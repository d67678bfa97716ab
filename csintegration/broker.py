"""The Redis broker transport of the platform: kombu's, with one Redis client per channel.

kombu's Redis channel builds a new ``redis.Redis`` for every message it publishes (``conn_or_acquire``
without a client), over the channel's connection pool; building one registers some 300 response
callbacks, a third of the cost of publishing a task, paid twice by a health-change request (its fan-out
and its webhook deliveries). This channel keeps one client per connection pool and reuses it: the same
pool and connections, the same commands. A pool replaced (after a fork, on reconnection) gets a client of
its own. ``csintegration/celery.py`` makes it the transport of ``redis://`` and ``rediss://`` URLs.
"""

from __future__ import annotations

from contextlib import contextmanager

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client: tuple[object, object] | None = None

    @contextmanager
    def conn_or_acquire(self, client=None):
        if client:
            yield client
            return
        pool = self.pool
        shared = self._shared_client
        if shared is None or shared[0] is not pool:
            shared = self._shared_client = (pool, self._create_client())
        yield shared[1]


class Transport(redis.Transport):
    Channel = Channel
