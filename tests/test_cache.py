"""The Redis cache as configured (leadcaller/cache.py): one client per connection pool, reads that miss
and writes that are dropped while Redis is down, and the same client working again once it is back."""

from __future__ import annotations

import pytest

from leadcaller import config
from leadcaller.cache import DegradingRedisCache
from tests.drills.servers import RedisServer


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def make_cache():
    made: list[DegradingRedisCache] = []

    def make(url: str) -> DegradingRedisCache:
        made.append(_cache(url))
        return made[-1]

    yield make
    for cache in made:  # the pools' sockets, closed rather than left to the garbage collector
        for pool in cache._cache._pools.values():
            pool.disconnect()


def _cache(url: str) -> DegradingRedisCache:
    params = config.cache_settings({"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url},
                                   key_prefix="test-cache:")
    assert params["BACKEND"] == "leadcaller.cache.DegradingRedisCache"
    return DegradingRedisCache(params["LOCATION"], params)


def test_every_operation_goes_through_one_client(redis_server, make_cache):
    cache = make_cache(redis_server.url)
    clients = []
    real = cache._cache.get_client

    def noting(*args, **kwargs):
        clients.append(real(*args, **kwargs))
        return clients[-1]

    cache._cache.get_client = noting
    assert cache.add("kick", 1.5, timeout=30) is True
    assert cache.add("kick", 2.5, timeout=30) is False
    assert cache.get("kick") == 1.5
    cache.set("kick", 3.5, timeout=30)
    assert cache.get("kick") == 3.5
    assert len(clients) == 5 and len({id(client) for client in clients}) == 1


def test_while_redis_is_down_reads_miss_and_writes_are_dropped_and_then_it_works_again(redis_server, make_cache):
    cache = make_cache(redis_server.url)
    cache.set("site-list", ["shop.example"], timeout=30)
    redis_server.stop()

    assert cache.get("site-list", "missed") == "missed"
    assert cache.add("kick", 1.0, timeout=30) is False
    cache.set("kick", 1.0, timeout=30)  # dropped, not raised

    redis_server.start()  # the same port; the reused client reconnects
    assert cache.get("site-list") is None  # no persistence: a fresh server
    assert cache.add("kick", 2.0, timeout=30) is True
    assert cache.get("kick") == 2.0
