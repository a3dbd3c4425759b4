from __future__ import annotations

import secrets

import pytest

from demo.fakes.bitrix24 import FakeBitrix24


@pytest.fixture(autouse=True)
def own_limits(settings):
    """What a test's portal said about its limits stays with that test: a fake started later may
    get the same port, and so the same shared bucket and marks."""
    from leads import crm_leads

    settings.REDIS_KEY_PREFIX = f"{settings.REDIS_KEY_PREFIX}{secrets.token_hex(4)}:"
    crm_leads._partner_fields.clear()
    yield
    crm_leads._partner_fields.clear()


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
def short_bitrix_timeout(settings):
    """We give up on Bitrix24 after 0.3 s, adds included: as when the portal outlasts our timeout."""
    settings.PROVIDER_TIMEOUT = 0.3


def finished_call(lead, outcome="human", number=1, **fields):
    """The lead's call attempt `number`, finished with `outcome`."""
    from telephony.models import CallAttempt
    from tests.factories import CallAttemptFactory

    return CallAttemptFactory(lead=lead, number=number, status=CallAttempt.Status.FINISHED, outcome=outcome, **fields)


def in_bitrix_with_a_finished_call(leads) -> None:
    """The leads added to Bitrix24 by a claimer run (in one batch), then each with a finished call whose
    outcome is announced: a write-back due for each."""
    from leads import crm, services

    crm.crm_claim_run()
    for lead in leads:
        finished_call(lead)
        services.lead_outcome_announce(lead=lead)
