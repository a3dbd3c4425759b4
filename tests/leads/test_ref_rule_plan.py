"""The ref rule costs a new lead no statement, and a repeat's look-up the same however many leads its site
has had."""

from __future__ import annotations

import pytest
from django.db import connection

from leads.models import Lead
from tests.conftest import post_json
from tests.factories import LeadFactory
from tests.query_plans import plans_on, statements_sent

ORIGIN = {"HTTP_ORIGIN": "https://www.shop.example"}

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plans")


def test_a_new_lead_costs_the_ref_rule_no_statement_of_its_own(api, site):
    """The INSERT leaves the row out when an open lead holds the ref (the unique index says so)."""
    LeadFactory.create_batch(3, site=site)

    sent = statements_sent(lambda: post_json(api, {"phone": "+79123456789"}, **ORIGIN))

    lead_statements = [sql for sql, _params in sent if '"leads_lead"' in sql]
    assert [sql.split(None, 1)[0] for sql in lead_statements] == ["INSERT"], lead_statements
    assert "ON CONFLICT DO NOTHING" in lead_statements[0]


def test_a_repeated_posts_look_up_probes_the_unique_index_and_reads_no_other_lead(api, site):
    LeadFactory.create_batch(30, site=site)
    LeadFactory.create_batch(10, site=site, status=Lead.Status.REACHED, ref="+79123456789")
    post_json(api, {"phone": "+79123456789"}, **ORIGIN)

    plans = [plan for plan in plans_on("leads_lead", lambda: post_json(api, {"phone": "+79123456789"}, **ORIGIN))
             if '"ref"' in plan.sql]

    assert plans, "the repeat did not look its ref up"
    for plan in plans:
        assert "lead_one_open_per_ref" in plan.indexes and plan.rows_read["leads_lead"] <= 1, plan
        assert "ORDER BY" not in plan.sql  # by the primary key, PostgreSQL may walk the site's history instead


def test_a_repeated_post_still_finds_its_open_lead(api, site):
    LeadFactory.create_batch(5, site=site)
    first = post_json(api, {"phone": "+79123456789", "ref": "order-7"}, **ORIGIN).json()

    again = post_json(api, {"phone": "+79123456789", "ref": "order-7"}, **ORIGIN)

    assert again.json()["duplicate"] is True and again.json()["id"] == first["id"]
