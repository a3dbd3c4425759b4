"""Shared fixtures. The suite runs on whatever DATABASE_URL and CELERY_BROKER_URL name
(PostgreSQL and Redis in CI), and on SQLite with the embedded broker when they are unset."""

from __future__ import annotations

import uuid

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import SiteFactory


@pytest.fixture(autouse=True)
def _isolated_cache(settings):
    """Throttle counters and cached site lists must not leak from one test into the next.

    A per-test local-memory cache, never `clear()` on a shared Redis.
    """
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": uuid.uuid4().hex}}
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def site(db):
    return SiteFactory(domain="shop.example", name="Shop")


def post_json(api: APIClient, data, **headers):
    return api.post("/api/v1/leads/", data, format="json", **headers)
