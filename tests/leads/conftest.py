from __future__ import annotations

import pytest

from demo.fakes.bitrix24 import FakeBitrix24


@pytest.fixture
def b24(settings):
    """A running fake Bitrix24 portal, connected by inbound webhook. Our own limiter is generous
    here; the tests of the rate limit set it as they need."""
    with FakeBitrix24(timeout_delay=0.6) as fake:
        settings.BITRIX_WEBHOOK_URL = fake.webhook_url
        settings.BITRIX_PORTAL_URL = ""
        settings.BITRIX_BURST = 1000
        settings.BITRIX_REQUESTS_PER_SECOND = 1000.0
        yield fake


@pytest.fixture
def b24_oauth(settings, db):
    """The fake portal connected as an OAuth application, with its first token pair installed."""
    from leads.models import BitrixAuth

    with FakeBitrix24() as fake:
        settings.BITRIX_WEBHOOK_URL = ""
        settings.BITRIX_PORTAL_URL = fake.portal_url.rstrip("/") + "/"
        settings.BITRIX_OAUTH_URL = fake.oauth_url.rstrip("/")
        settings.BITRIX_CLIENT_ID, settings.BITRIX_CLIENT_SECRET = fake.client_id, fake.client_secret
        settings.BITRIX_BURST = 1000
        settings.BITRIX_REQUESTS_PER_SECOND = 1000.0
        tokens = fake.issue_tokens()
        BitrixAuth.objects.create(member_id=fake.member_id, domain="127.0.0.1", client_endpoint=fake.client_endpoint,
                                  access_token=tokens["access_token"], refresh_token=tokens["refresh_token"])
        yield fake


@pytest.fixture
def short_bitrix_timeout(monkeypatch):
    from leads import bitrix

    monkeypatch.setattr(bitrix, "TIMEOUT", (1.0, 0.3))
