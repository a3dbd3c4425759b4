"""The shared token bucket: in the database, and in Redis when the broker is Redis."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.db import connections

from leads import ratelimit

ON_REDIS = django_settings.CELERY_BROKER_URL.startswith("redis://")


@pytest.fixture(params=["database", pytest.param("redis", marks=pytest.mark.skipif(
    not ON_REDIS, reason="CELERY_BROKER_URL is not Redis"))])
def backend(request, settings):
    if request.param == "database":
        settings.CELERY_BROKER_URL = "filesystem://localhost//"
    return request.param


@pytest.mark.django_db(transaction=True)
def test_a_burst_gets_the_capacity_and_then_waits(backend):
    key = f"test-{uuid.uuid4().hex}"
    waits = [ratelimit.take(key, rate=2.0, capacity=3) for _ in range(5)]

    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0.3 < waits[3] <= 0.5 and waits[4] > 0


@pytest.mark.django_db(transaction=True)
def test_tokens_come_back_at_the_rate(backend):
    key = f"test-{uuid.uuid4().hex}"
    for _ in range(2):
        ratelimit.take(key, rate=10.0, capacity=2)
    assert ratelimit.take(key, rate=10.0, capacity=2) > 0
    time.sleep(0.15)

    assert ratelimit.take(key, rate=10.0, capacity=2) == 0.0


@pytest.mark.django_db(transaction=True)
def test_concurrent_takers_never_get_more_than_the_bucket_allows(backend):
    key, granted, lock = f"test-{uuid.uuid4().hex}", [], threading.Lock()

    def taker():
        try:
            for _ in range(10):
                if ratelimit.take(key, rate=1.0, capacity=5) == 0.0:
                    with lock:
                        granted.append(time.monotonic())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=taker) for _ in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    elapsed = time.monotonic() - started
    assert 5 <= len(granted) <= 5 + int(elapsed * 1.0) + 1


@pytest.mark.django_db(transaction=True)
def test_a_bucket_lowered_into_debt_makes_every_taker_wait_it_out(backend):
    key = f"test-{uuid.uuid4().hex}"
    assert ratelimit.take(key, rate=2.0, capacity=3) == 0.0

    wait = ratelimit.lower(key, tokens=-47, rate=2.0, capacity=3)  # the remote says it is full

    assert 23.9 <= wait <= 24.0
    assert 23.9 <= ratelimit.take(key, rate=2.0, capacity=3) <= 24.0  # nothing taken meanwhile
    assert ratelimit.lower(key, tokens=0, rate=2.0, capacity=3) > 23  # never raised by a milder report


@pytest.mark.django_db(transaction=True)
def test_a_mark_holds_the_bucket_until_its_moment_and_is_forgotten_after(backend):
    key, hold = f"test-{uuid.uuid4().hex}", f"hold-{uuid.uuid4().hex}"
    ratelimit.mark(hold, time.time() + 0.3)

    assert 0.1 < ratelimit.take(key, rate=10.0, capacity=5, holds=[hold, "other"]) <= 0.3
    assert ratelimit.take(key, rate=10.0, capacity=5) == 0.0  # a bucket without that hold is free
    assert 0.1 < ratelimit.marked(hold) - time.time() <= 0.3
    time.sleep(0.35)
    assert ratelimit.take(key, rate=10.0, capacity=5, holds=[hold]) == 0.0
    assert ratelimit.marked(hold) is None
    ratelimit.mark(hold, time.time() - 1)  # a moment already past is not kept
    assert ratelimit.marked(hold) is None


@pytest.mark.django_db(transaction=True)
def test_a_token_given_back_can_be_taken_again_but_never_beyond_the_capacity(backend):
    key = f"test-{uuid.uuid4().hex}"
    assert [ratelimit.take(key, rate=0.01, capacity=2) for _ in range(2)] == [0.0, 0.0]
    assert ratelimit.take(key, rate=0.01, capacity=2) > 0

    ratelimit.give_back(key, rate=0.01, capacity=2)
    assert ratelimit.take(key, rate=0.01, capacity=2) == 0.0
    for _ in range(5):
        ratelimit.give_back(key, rate=0.01, capacity=2)
    assert [ratelimit.take(key, rate=0.01, capacity=2) == 0.0 for _ in range(3)] == [True, True, False]


@pytest.mark.django_db(transaction=True)
def test_a_peek_answers_what_a_take_would_and_takes_nothing(backend):
    key = f"test-{uuid.uuid4().hex}"
    assert ratelimit.peek(key, rate=2.0, capacity=1) == 0.0  # a bucket nobody used yet is full
    assert ratelimit.peek(key, rate=2.0, capacity=1) == 0.0
    assert ratelimit.take(key, rate=2.0, capacity=1) == 0.0  # the peeks left the one token there

    waiting = ratelimit.peek(key, rate=2.0, capacity=1)
    assert 0.3 < waiting <= 0.5
    assert ratelimit.take(key, rate=2.0, capacity=1) == pytest.approx(waiting, abs=0.1)


@pytest.mark.django_db(transaction=True)
def test_a_peek_sees_a_mark_that_holds_the_bucket(backend):
    key, hold = f"test-{uuid.uuid4().hex}", f"hold-{uuid.uuid4().hex}"
    ratelimit.mark(hold, time.time() + 30)

    assert 25 < ratelimit.peek(key, rate=2.0, capacity=1, holds=[hold]) <= 30
    assert ratelimit.peek(key, rate=2.0, capacity=1) == 0.0
