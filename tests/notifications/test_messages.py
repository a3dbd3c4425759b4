"""What the seller reads: the card's content, escaping of everything from a lead, safe cutting."""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest
from django.utils import translation

from leads.models import Lead
from notifications import messages
from tests.factories import LeadFactory, PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db


def balanced(text: str) -> bool:
    """Every tag closed in order, and only Telegram's entities used."""
    stack = []
    for closing, name in re.findall(r"<(/?)([a-z-]+)[^>]*>", text):
        if closing:
            if not stack or stack.pop() != name:
                return False
        else:
            stack.append(name)
    bare = re.sub(r"&(lt|gt|amp|quot|#\d+);", "", re.sub(r"<[^>]+>", "", text))
    return not stack and "<" not in bare and ">" not in bare and "&" not in bare


def test_card_shows_site_partner_name_phone_amount_utm_and_buttons(settings):
    settings.BITRIX_WEBHOOK_URL = "https://shop.bitrix24.ru/rest/1/secret/"
    settings.PUBLIC_BASE_URL = "https://leads.example.com"
    lead = LeadFactory(site=SiteFactory(name="Shop", time_zone="Europe/Moscow"), partner=PartnerFactory(name="Acme"),
                       name="Анна", phone="+79123456789", order_amount=Decimal("1500.5"), currency="RUB",
                       utm_source="ya", bitrix_lead_id=77)
    text, buttons = messages.card(lead)

    assert "Shop" in text and "Анна" in text and "Acme" in text and "utm: ya" in text
    assert "📞 +7 ••• •••-67-89" in text and "+79123456789" not in text and "tel:" not in text
    assert "<code>" not in text  # the admin's address is a button, not text
    assert "1\u00a0500.50 RUB" in text
    assert [b.url for b in buttons] == ["https://shop.bitrix24.ru/crm/lead/details/77/",
                                        f"https://leads.example.com/admin/leads/lead/{lead.pk}/change/"]
    assert "secret" not in "".join(b.url for b in buttons)


@pytest.mark.parametrize("base_url", ["http://localhost:8000", "http://127.0.0.1:8000", "http://192.168.1.20",
                                      "http://leadcaller:8000", "http://leads.local", "http://[::1]:8000"])
def test_without_a_public_address_cards_and_alerts_carry_no_admin_button_but_its_address_as_text(settings, base_url):
    settings.PUBLIC_BASE_URL = base_url
    lead = LeadFactory(phone="+79123456789")
    for text, buttons in (messages.card(lead), messages.alert(lead, "why")):
        assert buttons == []
        assert f"<code>{base_url}/admin/leads/lead/{lead.pk}/change/</code>" in text
        assert "<a " not in text and balanced(text)


def test_a_portal_on_a_private_address_gets_no_button(settings):
    settings.BITRIX_WEBHOOK_URL, settings.PUBLIC_BASE_URL = "http://10.1.2.3/rest/1/x/", "https://leads.example.com"
    lead = LeadFactory(bitrix_lead_id=5)

    assert [b.text for b in messages.card(lead)[1]] == ["Open in admin"]


@pytest.mark.parametrize("evil", ["<b>", "Tom & Jerry", "</i><script>x</script>", "a < b > c", "&amp;", "<a href='x'>"])
def test_anything_from_a_lead_is_escaped(evil):
    lead = LeadFactory(name=evil, comment=evil, utm_source=evil)
    for text in (messages.card(lead)[0], messages.alert(lead, evil)[0], messages.digest([lead])):
        assert balanced(text), text
        assert evil in html.unescape(re.sub(r"<[^>]+>", "", text))


def test_a_huge_lead_is_cut_at_a_line_boundary_under_the_limit():
    lead = LeadFactory(name="N" * 200, comment="<&>" * 2000)
    text = messages.card(lead)[0]

    assert len(text) < messages.LIMIT and balanced(text)


def test_a_digest_of_many_leads_stays_under_the_limit_and_valid():
    leads = [LeadFactory(name="<" * 60) for _ in range(50)]
    text = messages.digest(leads)

    assert len(text) < messages.LIMIT and balanced(text) and "50" in text


def test_card_follows_the_call(settings):
    lead = LeadFactory()
    assert "Waiting for the call" in messages.card(lead)[0]
    lead.status, lead.manual_reason = Lead.Status.MANUAL, "number is not valid"
    assert "Manual handling: number is not valid" in messages.card(lead)[0]
    lead.status = Lead.Status.REACHED
    assert "Reached by phone" in messages.card(lead)[0]


def test_messages_are_translated_to_the_chats_language():
    lead = LeadFactory()
    with translation.override("ru"):
        text = messages.card(lead)[0]

    assert "Новый лид" in text and "New lead" not in text


def test_plain_text_drops_markup_and_decodes_entities():
    assert messages.plain('<b>A &amp; B</b> <a href="https://a.example/">1</a>') == "A & B 1"


@pytest.mark.parametrize(("phone", "masked"), [
    ("+79123456789", "+7 ••• •••-67-89"),
    ("+12025550143", "+1 ••• •••-01-43"),
    ("+4930123456", "+49 ••• •••-34-56"),
    ("+375291234567", "+375 ••• •••-45-67"),
])
def test_the_card_alert_and_digest_show_a_masked_number_by_default(phone, masked):
    lead = LeadFactory(phone=phone)

    for text in (messages.card(lead)[0], messages.alert(lead, "why")[0], messages.digest([lead])):
        assert masked in text and phone not in text and phone[-7:] not in text


def test_a_site_that_allows_whole_numbers_gets_them_in_telegram():
    lead = LeadFactory(site=SiteFactory(telegram_full_phone=True), phone="+79123456789")

    for text in (messages.card(lead)[0], messages.alert(lead, "why")[0], messages.digest([lead])):
        assert "📞 +79123456789" in text or ": +79123456789" in text


def test_the_admin_still_shows_staff_the_whole_number(client):
    from django.contrib.auth.models import User

    lead = LeadFactory(phone="+79123456789")
    client.force_login(User.objects.create_superuser("root", password="x"))

    assert "+79123456789" in client.get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
