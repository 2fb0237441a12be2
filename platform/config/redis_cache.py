"""Django's Redis cache backend, keeping its redis client instead of building one per call.

Django's client wrapper makes a new ``redis.Redis`` object for every cache operation;
its constructor was a third of a session read from Redis (0.19 of 0.50 ms under
cProfile, tests/bench/bench_library.py). One client per connection pool does the same
work: redis-py clients are safe to share between threads, and the pool they draw
connections from is the one Django made.
"""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class _ClientKeepingRedisCacheClient(RedisCacheClient):
    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients_by_pool", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ClientKeepingRedisCacheClient
