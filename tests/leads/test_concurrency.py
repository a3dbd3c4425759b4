"""The ref rule under real concurrency: many posts of one lead at the same moment."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from leads.models import Lead, LeadEvent
from tests.conftest import run_together
from tests.factories import SiteFactory

N = 8


@pytest.mark.django_db(transaction=True)
def test_simultaneous_posts_with_one_ref_store_one_lead(settings):
    settings.THROTTLE_PER_PHONE = None
    settings.THROTTLE_PER_IP = None
    SiteFactory(domain="shop.example")
    def post(i: int):
        response = APIClient().post("/api/v1/leads/", {"phone": "+79120001122", "name": f"tab {i}"},
                                    format="json", HTTP_ORIGIN="https://shop.example")
        return response.status_code, response.json()

    results = run_together(*(lambda i=i: post(i) for i in range(N)))

    print(f"backend: {connection.vendor}")
    codes = sorted(code for code, _ in results)
    assert codes == [200] * (N - 1) + [201]
    assert len({body["id"] for _, body in results}) == 1
    assert sum(body["duplicate"] for _, body in results) == N - 1
    lead = Lead.objects.get()
    assert lead.events.filter(kind=LeadEvent.Kind.DUPLICATE).count() == N - 1
