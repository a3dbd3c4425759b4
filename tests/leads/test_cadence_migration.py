"""The migration that replaced the fixed retry with the cadence keeps what each site had chosen."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from telephony.cadence import DEFAULT_CADENCE

BEFORE = [("leads", "0018_site_call_mode")]
AFTER = [("leads", "0019_site_call_cadence_voicemail")]


@pytest.mark.django_db(transaction=True)
def test_sites_keep_their_retry_as_a_cadence_and_sites_on_the_old_defaults_get_the_new_one():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps.get_model("leads", "Site")
    changed = old.objects.create(domain="a.example", call_max_attempts=4, call_retry_minutes=15)
    untouched = old.objects.create(domain="b.example", call_max_attempts=3, call_retry_minutes=20)
    single = old.objects.create(domain="c.example", call_max_attempts=1, call_retry_minutes=20)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps.get_model("leads", "Site")
    cadences = dict(new.objects.filter(pk__in=[changed.pk, untouched.pk, single.pk])
                    .values_list("domain", "call_cadence"))
    assert cadences == {"a.example": "0, 15m, 15m, 15m", "b.example": DEFAULT_CADENCE, "c.example": "0"}

    executor = MigrationExecutor(connection)  # and back: the number of calls and the first spacing
    executor.migrate(BEFORE)
    back = executor.loader.project_state(BEFORE).apps.get_model("leads", "Site")
    assert back.objects.values_list("domain", "call_max_attempts", "call_retry_minutes").get(domain="a.example") \
        == ("a.example", 4, 15)
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
