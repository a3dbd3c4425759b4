"""Django's Redis cache, made to degrade instead of fail: while Redis cannot be reached a read is a
miss and a write is dropped (logged). The cache only holds throttle counters and short-lived
look-ups, so a Redis outage must not turn into failed requests (a lead stored, then a 500)."""

from __future__ import annotations

import functools
import logging

import redis
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

logger = logging.getLogger(__name__)
UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _degrades(fallback):
    def decorate(method):
        @functools.wraps(method)
        def wrapper(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except UNREACHABLE as exc:
                logger.warning("cache %s skipped, Redis unreachable: %s", method.__name__, exc)
                return fallback(*args, **kwargs)
        return wrapper
    return decorate


def _default(key, default=None, *args, **kwargs):
    return default


class _ReusedClient(RedisCacheClient):
    """Django's client wraps its connection pool in a new `redis.Redis` for every operation, and redis-py
    builds a table of some 200 reply parsers in each: 59 us of CPU per cache operation, five or six of
    them per intake. One `redis.Redis` per pool does (it is thread-safe; the pool holds the connections)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, redis.Redis] = {}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class DegradingRedisCache(RedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = _ReusedClient

    get = _degrades(_default)(RedisCache.get)
    get_many = _degrades(lambda *args, **kwargs: {})(RedisCache.get_many)
    has_key = _degrades(lambda *args, **kwargs: False)(RedisCache.has_key)
    set = _degrades(lambda *args, **kwargs: None)(RedisCache.set)
    set_many = _degrades(lambda *args, **kwargs: [])(RedisCache.set_many)
    add = _degrades(lambda *args, **kwargs: False)(RedisCache.add)
    touch = _degrades(lambda *args, **kwargs: False)(RedisCache.touch)
    delete = _degrades(lambda *args, **kwargs: False)(RedisCache.delete)
    delete_many = _degrades(lambda *args, **kwargs: None)(RedisCache.delete_many)
