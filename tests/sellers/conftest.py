from __future__ import annotations

import pytest

from demo.fakes.bitrix24 import FakeBitrix24


@pytest.fixture
def b24(settings):
    """The fake Bitrix24 portal, connected by inbound webhook (as in tests/leads/conftest.py)."""
    with FakeBitrix24(timeout_delay=0.6) as fake:
        settings.BITRIX_WEBHOOK_URL = fake.webhook_url
        settings.BITRIX_PORTAL_URL = ""
        settings.BITRIX_BURST = 1000
        settings.BITRIX_REQUESTS_PER_SECOND = 1000.0
        yield fake
