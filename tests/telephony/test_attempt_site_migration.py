"""The migration that gives each call attempt its site fills it in from the attempt's lead."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("telephony", "0008_attempt_sellers_offered"), ("leads", "0019_site_call_cadence_voicemail")]
AFTER = [("telephony", "0010_attempt_site_required")]


@pytest.mark.django_db(transaction=True)
def test_existing_attempts_take_their_leads_site_and_the_column_is_then_required():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Site, Lead, Attempt = (old.get_model(*name) for name in (("leads", "Site"), ("leads", "Lead"),
                                                             ("telephony", "CallAttempt")))
    sites = [Site.objects.create(domain=f"{name}.example") for name in ("a", "b")]
    leads = [Lead.objects.create(site=site, ref=f"+7912000000{n}", phone=f"+7912000000{n}", phone_raw="x")
             for n, site in enumerate(sites)]
    attempts = [Attempt.objects.create(lead=lead, number=1, phone=lead.phone) for lead in leads]

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("telephony", "CallAttempt")
    assert dict(new.objects.filter(pk__in=[a.pk for a in attempts]).values_list("pk", "site_id")) == {
        attempts[0].pk: sites[0].pk, attempts[1].pk: sites[1].pk}
    assert not new._meta.get_field("site").null

    executor = MigrationExecutor(connection)  # and back
    executor.migrate(BEFORE)
    back = executor.loader.project_state(BEFORE).apps.get_model("telephony", "CallAttempt")
    assert back.objects.filter(pk__in=[a.pk for a in attempts]).count() == 2
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
