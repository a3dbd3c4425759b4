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


def test_card_shows_site_partner_name_phone_link_amount_utm_and_buttons(settings):
    settings.BITRIX_WEBHOOK_URL = "https://shop.bitrix24.ru/rest/1/secret/"
    lead = LeadFactory(site=SiteFactory(name="Shop", time_zone="Europe/Moscow"), partner=PartnerFactory(name="Acme"),
                       name="Анна", phone="+79123456789", order_amount=Decimal("1500.5"), currency="RUB",
                       utm_source="ya", bitrix_lead_id=77)
    text, buttons = messages.card(lead)

    assert "Shop" in text and "Анна" in text and "Acme" in text and "utm: ya" in text
    assert '<a href="tel:+79123456789">+79123456789</a>' in text
    assert "1\u00a0500.50 RUB" in text
    assert [b.url for b in buttons] == ["https://shop.bitrix24.ru/crm/lead/details/77/",
                                        f"{settings.PUBLIC_BASE_URL}/admin/leads/lead/{lead.pk}/change/"]
    assert "secret" not in "".join(b.url for b in buttons)


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
    assert messages.plain('<b>A &amp; B</b> <a href="tel:1">1</a>') == "A & B 1"
