"""OAuth application mode: tokens in the database, one refresh for everybody, the install handler."""

from __future__ import annotations

import pytest

from leads import bitrix, crm
from leads.models import BitrixAuth, Lead
from tests.conftest import run_together
from tests.factories import LeadFactory

State = Lead.StepState


@pytest.mark.django_db
def test_an_expired_access_token_is_refreshed_once_and_the_call_repeated(b24_oauth):
    old = BitrixAuth.objects.get()
    b24_oauth.expire_access_tokens()
    lead = LeadFactory()
    crm.crm_step_run(lead_id=lead.pk)

    lead.refresh_from_db()
    auth = BitrixAuth.objects.get()
    assert lead.crm_state == State.DONE and len(b24_oauth.leads) == 1
    assert b24_oauth.refresh_count == 1
    assert (auth.access_token, auth.refresh_token) != (old.access_token, old.refresh_token)
    assert auth.refreshed_at is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_share_one_refresh_and_no_refresh_token_is_lost(b24_oauth):
    b24_oauth.expire_access_tokens()
    run_together(*[lambda: bitrix.client_from_settings().call("crm.lead.fields")] * 6)  # raises a worker's error

    assert b24_oauth.refresh_count == 1
    # The stored refresh token is the live one: a later refresh still works.
    b24_oauth.expire_access_tokens()
    bitrix.client_from_settings().call("crm.lead.fields")
    assert b24_oauth.refresh_count == 2


@pytest.mark.django_db
def test_a_refused_refresh_sends_the_lead_to_manual_handling_and_records_the_error(b24_oauth):
    BitrixAuth.objects.update(refresh_token="revoked")
    b24_oauth.expire_access_tokens()
    lead = LeadFactory()
    crm.crm_step_run(lead_id=lead.pk)

    lead.refresh_from_db()
    assert lead.status == Lead.Status.MANUAL and "invalid_grant" in lead.manual_reason
    assert "invalid_grant" in BitrixAuth.objects.get().last_error


@pytest.mark.django_db
def test_the_install_handler_stores_tokens_that_work_with_our_portal(b24_oauth, client):
    BitrixAuth.objects.all().delete()
    tokens = b24_oauth.issue_tokens()
    response = client.post("/api/v1/crm/bitrix/install/", {
        "AUTH_ID": tokens["access_token"], "REFRESH_ID": tokens["refresh_token"], "AUTH_EXPIRES": "3600",
        "member_id": b24_oauth.member_id})

    assert response.status_code == 200
    auth = BitrixAuth.objects.get()
    assert (auth.access_token, auth.member_id) == (tokens["access_token"], b24_oauth.member_id)
    lead = LeadFactory()
    crm.crm_step_run(lead_id=lead.pk)
    assert Lead.objects.get(pk=lead.pk).crm_state == State.DONE


@pytest.mark.django_db
def test_the_install_handler_refuses_tokens_that_do_not_work(b24_oauth, client):
    response = client.post("/api/v1/crm/bitrix/install/", {
        "AUTH_ID": "forged", "REFRESH_ID": "forged", "member_id": "attacker"})

    assert response.status_code == 403
    assert not BitrixAuth.objects.filter(member_id="attacker").exists()


@pytest.mark.django_db
def test_the_install_handler_needs_the_token_fields(b24_oauth, client):
    assert client.post("/api/v1/crm/bitrix/install/", {"member_id": "x"}).status_code == 400


@pytest.mark.django_db
def test_bitrix_connect_command_exchanges_an_authorization_code(b24_oauth):
    from django.core.management import call_command

    BitrixAuth.objects.all().delete()
    call_command("bitrix_connect", code=b24_oauth.issue_auth_code())

    assert BitrixAuth.objects.get().member_id == b24_oauth.member_id
