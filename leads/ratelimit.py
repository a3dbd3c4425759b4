"""A token bucket shared by every worker and process, for remote rate limits (Bitrix24, Telegram).

In Redis when the broker is Redis (one atomic script per take), in the database otherwise (a row
locked for the take). `take` never sleeps: it answers how long to wait, and the caller decides.
"""

from __future__ import annotations

import time
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

# KEYS[1] bucket; ARGV: rate per second, capacity, now (seconds), ttl (ms).
# Returns 0 when a token was taken, else the seconds until one will be there.
_LUA = """
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local rate, capacity, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return tostring(wait)
"""


def take(key: str, *, rate: float, capacity: float) -> float:
    """Take one token from bucket `key` (refilled at `rate` per second, holding at most `capacity`).

    Returns 0.0 when taken, else the seconds to wait before asking again (nothing is taken then).
    """
    if _redis_url():
        return _take_redis(key, rate, capacity)
    return _take_db(key, rate, capacity)


def _redis_url() -> str:
    url = settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://")) else ""


@lru_cache(maxsize=4)
def _redis_script(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).register_script(_LUA)


def _take_redis(key: str, rate: float, capacity: float) -> float:
    ttl_ms = int(max(capacity / rate, 1) * 2000)
    script = _redis_script(_redis_url())
    return float(script(keys=[f"{settings.REDIS_KEY_PREFIX}leadcaller:bucket:{key}"],
                        args=[rate, capacity, time.time(), ttl_ms]))


def _take_db(key: str, rate: float, capacity: float) -> float:
    from leads.models import RateBucket

    with transaction.atomic():
        bucket = RateBucket.objects.select_for_update().filter(key=key).first()
        if bucket is None:
            try:
                with transaction.atomic():
                    RateBucket.objects.create(key=key, tokens=capacity - 1)
                return 0.0
            except IntegrityError:  # another process created it meanwhile
                bucket = RateBucket.objects.select_for_update().get(key=key)
        now = timezone.now()
        tokens = min(capacity, bucket.tokens + max(0.0, (now - bucket.updated_at).total_seconds()) * rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        RateBucket.objects.filter(pk=bucket.pk).update(tokens=tokens, updated_at=now)
        return wait
