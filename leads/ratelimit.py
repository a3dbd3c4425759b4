"""What every worker and process must share about a remote's limits (Bitrix24, Telegram): token
buckets, and marks (a moment such as "not before" or what the remote last reported).

In Redis when the broker is Redis (one atomic script per take), in the database otherwise (a row
locked for the take). `take` never sleeps: it answers how long to wait, and the caller decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from datetime import timezone as dt_timezone
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max

# KEYS[1] the bucket, KEYS[2..] marks that hold it; ARGV: rate per second, capacity, now (seconds),
# the shortest ttl (ms), what to do (take, peek, lower, return) and for `lower` the most tokens left. A
# take returns 0 when a token was taken, else the seconds until one will be there; a peek answers the
# same and changes nothing. A bucket in debt (fewer than 0 tokens, after `lower`) is kept until it is
# full again.
_TAKE = """
local rate, capacity, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 2, #KEYS do
  local held = tonumber(redis.call('GET', KEYS[i]))
  if held and held > now then return tostring(held - now) end
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local ts = tonumber(state[2]) or now
local tokens = math.min(capacity, (tonumber(state[1]) or capacity) + math.max(0, now - ts) * rate)
local wait = 0
if ARGV[5] == 'peek' then
  return tostring(math.max(0, (1 - tokens) / rate))
elseif ARGV[5] == 'lower' then
  tokens = math.min(tokens, tonumber(ARGV[6]))
  wait = math.max(0, (1 - tokens) / rate)
elseif ARGV[5] == 'return' then
  tokens = math.min(capacity, tokens + 1)
elseif tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[4]), math.ceil((capacity - tokens) / rate * 2000)))
return tostring(wait)
"""


class StoreDown(Exception):
    """Redis did not answer: nobody can tell now whether a remote has room. Not the remote's fault, so
    not a failed try: the caller waits `RETRY_AFTER` seconds and asks again."""

    RETRY_AFTER = 5.0


@contextmanager
def _redis_answers() -> Iterator[None]:
    import redis

    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise StoreDown(str(exc)) from exc


def take(key: str, *, rate: float, capacity: float, holds: Sequence[str] = ()) -> float:
    """Take one token from bucket `key` (refilled at `rate` per second, holding at most `capacity`),
    unless a mark in `holds` lies in the future.

    Returns 0.0 when taken, else the seconds to wait before asking again (nothing is taken then).
    """
    if _redis_url():
        with _redis_answers():
            return float(_script()(keys=[_bucket_key(key), *map(_mark_key, holds)],
                                   args=[rate, capacity, time.time(), _min_ttl_ms(rate, capacity), "take"]))
    return _take_db(key, rate, capacity, holds)


def peek(key: str, *, rate: float, capacity: float, holds: Sequence[str] = ()) -> float:
    """What `take` would answer now, without taking: 0.0 when a token is there, else the seconds until one
    will be (or until the latest mark in `holds`)."""
    if _redis_url():
        with _redis_answers():
            return float(_script()(keys=[_bucket_key(key), *map(_mark_key, holds)],
                                   args=[rate, capacity, time.time(), _min_ttl_ms(rate, capacity), "peek"]))
    return _peek_db(key, rate, capacity, holds)


def give_back(key: str, *, rate: float, capacity: float) -> None:
    """Return a token taken for a request the remote never counted (it was not made, or refused unseen)."""
    if _redis_url():
        with _redis_answers():
            _script()(keys=[_bucket_key(key)],
                      args=[rate, capacity, time.time(), _min_ttl_ms(rate, capacity), "return"])
        return
    _change_db(key, rate, capacity, lambda current: min(capacity, current + 1))


def lower(key: str, *, tokens: float, rate: float, capacity: float) -> float:
    """The remote says it is full: bucket `key` holds at most `tokens` from now (below 0: a debt
    every taker waits out). Returns the seconds until the next token."""
    if _redis_url():
        with _redis_answers():
            return float(_script()(keys=[_bucket_key(key)],
                                   args=[rate, capacity, time.time(), _min_ttl_ms(rate, capacity), "lower", tokens]))
    return _lower_db(key, tokens, rate, capacity)


def mark(key: str, at: float) -> None:
    """Keep the moment `at` (unix seconds) under `key` until it has passed."""
    remaining = at - time.time()
    if remaining <= 0:
        return
    if _redis_url():
        with _redis_answers():
            _redis(_redis_url()).set(_mark_key(key), repr(at), px=int(remaining * 1000) + 1000)
        return
    from leads.models import RateMark

    RateMark.objects.update_or_create(key=key, defaults={"until": _aware(at)})


def marked(key: str) -> float | None:
    """The moment kept under `key`, while it lies in the future."""
    if _redis_url():
        with _redis_answers():
            value = _redis(_redis_url()).get(_mark_key(key))
        at = float(value) if value is not None else None
    else:
        from leads.models import RateMark

        until = RateMark.objects.filter(key=key).values_list("until", flat=True).first()
        at = until.timestamp() if until else None
    return at if at is not None and at > time.time() else None


def _redis_url() -> str:
    url = settings.CELERY_BROKER_URL
    return url if url.startswith(("redis://", "rediss://")) else ""


@lru_cache(maxsize=4)
def _redis(url: str):
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _script():
    return _registered(_redis_url())


@lru_cache(maxsize=4)
def _registered(url: str):
    return _redis(url).register_script(_TAKE)


def _bucket_key(key: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}leadcaller:bucket:{key}"


def _mark_key(key: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}leadcaller:mark:{key}"


def _min_ttl_ms(rate: float, capacity: float) -> int:
    return int(max(capacity / rate, 1) * 2000)


def _aware(at: float) -> datetime:
    return datetime.fromtimestamp(at, dt_timezone.utc)


def _take_db(key: str, rate: float, capacity: float, holds: Sequence[str]) -> float:
    held = _held_db(holds)
    if held:
        return held
    with transaction.atomic():
        bucket, tokens = _locked_bucket(key, capacity, rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
        bucket.tokens, bucket.updated_at = tokens, _aware(time.time())
        bucket.save(update_fields=["tokens", "updated_at"])
        return wait


def _peek_db(key: str, rate: float, capacity: float, holds: Sequence[str]) -> float:
    from leads.models import RateBucket

    held = _held_db(holds)
    if held:
        return held
    bucket = RateBucket.objects.filter(key=key).values_list("tokens", "updated_at").first()
    if bucket is None:
        return 0.0
    tokens = min(capacity, bucket[0] + max(0.0, time.time() - bucket[1].timestamp()) * rate)
    return max(0.0, (1 - tokens) / rate)


def _held_db(holds: Sequence[str]) -> float:
    """Seconds until the latest of the marks `holds` has passed; 0.0 when none lies ahead."""
    from leads.models import RateMark

    if not holds:
        return 0.0
    now = time.time()
    held = RateMark.objects.filter(key__in=holds, until__gt=_aware(now)).aggregate(at=Max("until"))["at"]
    return held.timestamp() - now if held is not None else 0.0


def _lower_db(key: str, tokens: float, rate: float, capacity: float) -> float:
    left = _change_db(key, rate, capacity, lambda current: min(current, tokens))
    return max(0.0, (1 - left) / rate)


def _change_db(key: str, rate: float, capacity: float, change: Callable[[float], float]) -> float:
    """Set the bucket's tokens to `change(tokens now)`, under its row lock; returns the new count."""
    with transaction.atomic():
        bucket, current = _locked_bucket(key, capacity, rate)
        bucket.tokens, bucket.updated_at = change(current), _aware(time.time())
        bucket.save(update_fields=["tokens", "updated_at"])
        return bucket.tokens


def _locked_bucket(key: str, capacity: float, rate: float):
    """The bucket's row, locked for this transaction, and its tokens refilled up to now."""
    from leads.models import RateBucket

    bucket = RateBucket.objects.select_for_update().filter(key=key).first()
    if bucket is None:
        try:
            with transaction.atomic():
                bucket = RateBucket.objects.create(key=key, tokens=capacity, updated_at=_aware(time.time()))
        except IntegrityError:  # another process created it meanwhile
            bucket = RateBucket.objects.select_for_update().get(key=key)
    elapsed = max(0.0, time.time() - bucket.updated_at.timestamp())
    return bucket, min(capacity, bucket.tokens + elapsed * rate)
