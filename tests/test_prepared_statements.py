"""PostgreSQL prepares the statements a connection keeps sending (leadcaller/config.py)."""

from __future__ import annotations

from pathlib import Path

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from leadcaller import config
from leads.pipeline import _lead_for_step
from tests.conftest import post_json
from tests.factories import LeadFactory
from tests.query_plans import statements_sent


def tuned(url: str) -> dict:
    db = config.database("DATABASE_URL", environ.Env.db_url_config(url))
    config.tune_database(db, test_dir=Path("/nonexistent"))
    return db


def test_postgresql_binds_values_on_the_server_and_prepares_after_five_runs():
    options = tuned("postgres://leadcaller@db.example/leadcaller")["OPTIONS"]
    assert (options["server_side_binding"], options["prepare_threshold"]) == (True, 5)


@pytest.mark.parametrize("off", ["false", "off", "0", "False"])
def test_a_pooler_that_cannot_keep_prepared_statements_turns_them_off_in_the_url(off):
    options = tuned(f"postgres://leadcaller@db.example/leadcaller?server_side_binding={off}")["OPTIONS"]
    assert options["server_side_binding"] is False and "prepare_threshold" not in options


def test_a_malformed_switch_in_the_url_stops_start_up_naming_it():
    with pytest.raises(ImproperlyConfigured, match="server_side_binding must be true or false"):
        tuned("postgres://leadcaller@db.example/leadcaller?server_side_binding=maybe")


def test_a_threshold_given_in_the_url_is_kept():
    options = tuned("postgres://leadcaller@db.example/leadcaller?prepare_threshold=2")["OPTIONS"]
    assert (options["server_side_binding"], options["prepare_threshold"]) == (True, 2)


def test_sqlite_is_left_without_them():
    assert "server_side_binding" not in tuned("sqlite:////tmp/x.sqlite3")["OPTIONS"]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's")
def test_a_hot_read_is_prepared_on_its_connection_and_still_answers():
    lead = LeadFactory()
    statement = "SELECT statement FROM pg_prepared_statements WHERE statement LIKE %s"
    with connection.cursor() as cursor:
        cursor.execute(statement, ['%FROM "leads_lead"%'])
        before = len(cursor.fetchall())
    for _ in range(6):
        assert _lead_for_step.first(pk=lead.pk).phone == lead.phone
    with connection.cursor() as cursor:
        cursor.execute(statement, ['%FROM "leads_lead"%'])
        assert len(cursor.fetchall()) == before + 1


@pytest.mark.django_db
def test_a_posts_lead_insert_passes_few_enough_values_for_psycopg_to_keep_its_parsing(api, site):
    # psycopg parses a statement's placeholders afresh on every run above this many values.
    from psycopg._queries import MAX_CACHED_STATEMENT_PARAMS

    answers = []
    sent = statements_sent(lambda: answers.append(post_json(
        api, {"phone": "+79123456789", "name": "Ivan", "comment": "c", "order_amount": "10"},
        HTTP_ORIGIN="https://shop.example")))

    inserts = [len(params) for sql, params in sent if sql.startswith('INSERT INTO "leads_lead"')]
    assert answers[0].status_code == 201
    assert len(inserts) == 1 and inserts[0] <= MAX_CACHED_STATEMENT_PARAMS
