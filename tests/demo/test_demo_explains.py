"""The demo explains itself: its site's name, partners from the simulator at start, the lead followed from
the form to /demo/, and the Integrations page saying what is simulated."""

from __future__ import annotations

import pytest

from demo.launcher import DEMO_SITE_NAME, demo_sites_register, free_ports
from demo.simulators import PARTNER_COMPANIES, Simulators
from leads.models import Partner, Site
from tests.factories import LeadFactory, PartnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def bitrix_simulator(settings):
    bitrix, state = free_ports(2)
    running = Simulators({"state_port": state,
                          "bitrix24": {"port": bitrix, "webhook_code": "c0de", "webhook_user_id": 1}})
    running.start()
    settings.BITRIX_WEBHOOK_URL = running.bitrix24.webhook_url
    settings.DEMO_SIMULATORS_URL = f"http://127.0.0.1:{state}/state.json"
    settings.BITRIX_BURST, settings.BITRIX_REQUESTS_PER_SECOND = 1000, 1000.0
    yield running
    running.stop()


def test_the_demo_forms_origin_is_the_demo_shop_and_an_old_name_is_renamed():
    Site.objects.create(domain="localhost", name="Demo form (localhost)")
    demo_sites_register("http://demo.example:8000")

    names = dict(Site.objects.values_list("domain", "name"))
    assert names["demo.example"] == DEMO_SITE_NAME
    assert names["localhost"] == f"{DEMO_SITE_NAME} (localhost)"


def test_partners_are_synced_from_the_bitrix24_simulator_at_start(bitrix_simulator):
    from leads.tasks import sync_partners_at_start

    counts = sync_partners_at_start()  # the task body, in this process

    assert counts["created"] == PARTNER_COMPANIES
    assert Partner.objects.filter(is_active=True, synced_at__isnull=False).count() == PARTNER_COMPANIES


def test_the_integrations_page_says_what_is_simulated_and_when_partners_were_synced(bitrix_simulator, admin_client):
    from leads.partners import partners_sync_if_connected

    before = admin_client.get("/admin/integrations/").content.decode()
    partners_sync_if_connected()
    after = admin_client.get("/admin/integrations/").content.decode()

    assert "never synced" in before
    assert after.count("simulated on this machine") == 1  # Bitrix24 only: the others are off here
    assert f"{PARTNER_COMPANIES} active partners, last synced from Bitrix24" in after


def test_demo_table_names_site_and_partner_links_the_admin_and_marks_the_followed_lead(client, bitrix_simulator):
    lead = LeadFactory(partner=PartnerFactory(name="Acme partner"))
    html = client.get("/demo/", {"lead": str(lead.public_id)}).content.decode()

    row = html.split(f'id="lead-{lead.public_id}"')[1].split("</tr>")[0]
    assert 'class="followed"' in row and lead.site.name in row and "Acme partner" in row
    assert f'href="/admin/leads/lead/{lead.pk}/change/"' in row


def test_bitrix24_cards_on_the_demo_page_are_collapsed(client, bitrix_simulator):
    from leads.bitrix import BitrixClient

    BitrixClient(base_url=bitrix_simulator.bitrix24.webhook_url).call("crm.lead.add", {"fields": {"TITLE": "T"}})
    html = client.get("/demo/").content.decode()

    assert '<details class="card"' in html and "<details class=\"card\" open" not in html


def test_the_demo_form_offers_to_follow_the_lead_only_while_simulators_run(client, settings):
    settings.DEMO_SIMULATORS_URL = ""
    assert "data-follow-url" not in client.get("/").content.decode()
    settings.DEMO_SIMULATORS_URL = f"http://127.0.0.1:{free_ports(1)[0]}/state.json"
    assert 'data-follow-url="/demo/"' in client.get("/").content.decode()


def test_the_demo_forms_messages_are_in_the_visitors_language(client):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()

    assert 'data-msg-unreachable="Сервер недоступен."' in html
    assert 'data-msg-created="Спасибо! Мы вам звоним. Ваша заявка: {id}."' in html


def test_partner_counts_read_in_correct_russian_plural_forms(bitrix_simulator):
    from django.utils import translation

    from leads.integrations import integrations_status
    from leads.partners import partners_sync_if_connected

    partners_sync_if_connected()
    with translation.override("ru"):
        assert "5 активных партнёров" in integrations_status()[0].note
        Partner.objects.filter(pk__in=Partner.objects.order_by("pk")[:3].values("pk")).update(is_active=False)
        assert "2 активных партнёра" in integrations_status()[0].note
