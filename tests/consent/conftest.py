from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User

from consent.models import ConsentProof
from consent.services import ConsentGiven, consent_proof_record, consent_text_add
from tests.factories import LeadFactory


def staff(username: str, group: str | None) -> User:
    user = User.objects.create_user(username, password="pw-" + username, is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def proof_for(lead, *, text: str = "I agree.", at=None, **fields) -> ConsentProof:
    """A proof written as intake writes it."""
    from django.utils import timezone

    version = consent_text_add(site=lead.site, text=text) if fields.pop("versioned", True) else None
    consent = ConsentGiven(text=text, consent_text=version, page_url=fields.pop("page_url", "https://shop.example/"),
                           page_source="form")
    return consent_proof_record(lead=lead, consent=consent, ip=fields.pop("ip", "198.51.100.7"),
                                user_agent=fields.pop("user_agent", "Mozilla/5.0"), at=at or timezone.now())


@pytest.fixture
def proof(db) -> ConsentProof:
    return proof_for(LeadFactory(phone="+79123456789"))
