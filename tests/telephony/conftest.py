from __future__ import annotations

import pytest

from demo.fakes.voximplant import FakeVoximplant

CALLER_ID = "74950000000"


@pytest.fixture
def vox(settings, tmp_path):
    """A running fake VoxImplant with the project configured to use it (service-account JWT)."""
    with FakeVoximplant(timeout_delay=0.6) as fake:
        settings.VOXIMPLANT_API_URL = fake.url
        settings.VOXIMPLANT_CREDENTIALS = str(fake.write_credentials(tmp_path / "vox.json"))
        settings.VOXIMPLANT_RULE_ID = "1"
        settings.VOXIMPLANT_CALLER_ID = CALLER_ID
        settings.VOXIMPLANT_CALLBACK_SECRET = "test-callback-secret"
        settings.CALLING_HOURS = "mon-sun 00:00-24:00"
        settings.LEAD_LOCAL_HOURS = "00:00-24:00"  # and in the lead's own zone, holidays included
        settings.SKIP_HOLIDAYS = False
        yield fake


@pytest.fixture
def short_timeouts(monkeypatch):
    """The client's read timeout, shortened so a held answer times out quickly."""
    from telephony import voximplant

    monkeypatch.setattr(voximplant, "TIMEOUT", (1.0, 0.3))
