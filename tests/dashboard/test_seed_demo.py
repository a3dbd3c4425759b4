"""`manage.py seed_demo`: a plausible history the dashboard can show (the generator bench/dashboard.py uses)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, F, Q

from leads.models import IntakeCounter, Lead
from telephony.models import CallAttempt

pytestmark = pytest.mark.django_db


def test_seed_demo_writes_leads_with_calls_that_agree_with_the_leads_columns():
    out = StringIO()
    call_command("seed_demo", "--leads", "600", "--days", "10", "--partners", "4", "--sites", "3", stdout=out)

    assert "Added 600 leads" in out.getvalue()
    leads = Lead.objects.all()
    assert leads.count() == 600 and leads.values("site").distinct().count() == 3
    assert not leads.filter(created_at__lt=F("first_dial_at") - timedelta(days=1)).exclude(first_dial_at=None).exists()
    assert leads.filter(status="reached").exclude(last_call_outcome="human").count() == 0
    firsts = {a.lead_id: a.created_at for a in CallAttempt.objects.filter(number=1)}
    assert all(lead.first_dial_at == firsts.get(lead.pk) for lead in leads)
    assert {"RUB", "USD"} <= set(leads.exclude(currency="").values_list("currency", flat=True))
    assert IntakeCounter.objects.filter(kind="duplicate").exists()
    assert leads.aggregate(n=Count("id", filter=Q(created_at__gt=F("first_dial_at"))))["n"] == 0


def test_the_same_seed_gives_the_same_history_twice():
    call_command("seed_demo", "--leads", "50", "--days", "3", stdout=StringIO())
    first = list(Lead.objects.order_by("id").values_list("created_at", "status", "order_amount"))
    Lead.objects.all().delete()
    call_command("seed_demo", "--leads", "50", "--days", "3", stdout=StringIO())
    second = list(Lead.objects.order_by("id").values_list("created_at", "status", "order_amount"))

    assert len(first) == 50 and [row[1:] for row in first] == [row[1:] for row in second]
