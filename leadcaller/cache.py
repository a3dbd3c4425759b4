"""Django's Redis cache, made to degrade instead of fail: while Redis cannot be reached a read is a
miss and a write is dropped (logged). The cache only holds throttle counters and short-lived
look-ups, so a Redis outage must not turn into failed requests (a lead stored, then a 500)."""

from __future__ import annotations

import functools
import logging

import redis
from django.core.cache.backends.redis import RedisCache

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


class DegradingRedisCache(RedisCache):
    get = _degrades(_default)(RedisCache.get)
    get_many = _degrades(lambda *args, **kwargs: {})(RedisCache.get_many)
    has_key = _degrades(lambda *args, **kwargs: False)(RedisCache.has_key)
    set = _degrades(lambda *args, **kwargs: None)(RedisCache.set)
    set_many = _degrades(lambda *args, **kwargs: [])(RedisCache.set_many)
    add = _degrades(lambda *args, **kwargs: False)(RedisCache.add)
    touch = _degrades(lambda *args, **kwargs: False)(RedisCache.touch)
    delete = _degrades(lambda *args, **kwargs: False)(RedisCache.delete)
    delete_many = _degrades(lambda *args, **kwargs: None)(RedisCache.delete_many)
