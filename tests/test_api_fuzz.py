"""Property-based fuzzing of the public API from its own OpenAPI schema: whatever is sent,
the answer is never a server error (5xx) and always matches the documented status codes."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from leadcaller.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def fuzz_site(db):
    from tests.factories import SiteFactory

    return SiteFactory(domain="localhost")


@schema.parametrize()
@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@pytest.mark.django_db(transaction=True)
def test_api_never_answers_a_server_error(case, fuzz_site, settings_override):
    case.call_and_validate(checks=[not_a_server_error, status_code_conformance])


@pytest.fixture
def settings_override(settings):
    settings.THROTTLE_PER_IP = settings.THROTTLE_PER_PHONE = None
    settings.VOXIMPLANT_CALLBACK_SECRET = "fuzz-secret"
