"""Statements built once per connection (leadcaller/compiled.py) answer as their querysets do."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Iterator

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.db.models.sql.compiler import SQLCompiler
from django.forms.models import model_to_dict
from django.utils import timezone

from django.db.models import F
from django.db.models.signals import post_save

from leadcaller.compiled import CompiledInsert, CompiledRead, CompiledSQL, CompiledUpdate, CompiledUpdates
from leads.models import Lead, LeadEvent, PartnerRule
from telephony.models import CallAttempt
from tests.factories import CallAttemptFactory, LeadFactory, PartnerFactory, SiteFactory

lead_with_relations: CompiledRead[Lead] = CompiledRead(
    lambda pk: Lead.objects.select_related("site", "partner").filter(pk=pk), pk=int)


def as_read(lead: Lead) -> dict:
    return {"lead": model_to_dict(lead), "site": model_to_dict(lead.site),
            "partner": model_to_dict(lead.partner) if lead.partner_id else None}


@pytest.mark.django_db
def test_a_compiled_read_gives_what_its_queryset_gives_for_every_key(django_assert_num_queries):
    leads = [LeadFactory(site=SiteFactory(), partner=PartnerFactory(), extra={"k": [1, 2]}, order_amount="12.50"),
             LeadFactory(site=SiteFactory(time_zone="Asia/Tokyo")), LeadFactory()]

    for lead in leads + leads:  # again: the second round runs the SQL built in the first
        expected = Lead.objects.select_related("site", "partner").get(pk=lead.pk)
        with django_assert_num_queries(1):
            got = lead_with_relations.first(pk=lead.pk)
            assert as_read(got) == as_read(expected)  # the site and partner came with it: no further query

    first = lead_with_relations.first(pk=leads[0].pk)
    assert (first.extra, str(first.order_amount), first.partner.pk) == ({"k": [1, 2]}, "12.50", leads[0].partner_id)
    assert lead_with_relations.first(pk=max(lead.pk for lead in leads) + 1) is None


@pytest.mark.django_db
def test_the_sql_is_built_once_per_connection(monkeypatch):
    builds = []
    as_sql = SQLCompiler.as_sql
    monkeypatch.setattr(SQLCompiler, "as_sql", lambda self, *a, **kw: builds.append(1) or as_sql(self, *a, **kw))
    read = CompiledRead(lambda pk: Lead.objects.select_related("site").filter(pk=pk), pk=int)
    leads = [LeadFactory() for _ in range(4)]
    builds.clear()

    assert [read.first(pk=lead.pk).phone for lead in leads] == [lead.phone for lead in leads]
    assert len(builds) == 2  # at the first read, with two sets of stand-ins for the key; never again


@pytest.mark.django_db(transaction=True)
def test_each_thread_runs_its_own_on_its_own_connection():
    """Django gives every thread a connection of its own; a statement built on one is never used on another."""
    leads = [LeadFactory() for _ in range(3)]
    assert lead_with_relations.first(pk=leads[0].pk).pk == leads[0].pk  # built on this thread's connection
    seen, errors = {}, []

    def read(lead: Lead) -> None:
        try:
            got = lead_with_relations.first(pk=lead.pk)
            seen[lead.pk] = (got.phone, got.site.domain, connections["default"] is not connection)
        except Exception as exc:  # reported below: an exception in a thread would vanish
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=read, args=(lead,)) for lead in leads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert seen == {lead.pk: (lead.phone, lead.site.domain, True) for lead in leads}


@pytest.mark.django_db
def test_str_and_datetime_keys_are_sent_as_the_database_takes_them():
    now = timezone.now()
    old, new = LeadFactory(phone="+79120000001"), LeadFactory(phone="+79120000001")
    Lead.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2))
    read = CompiledRead(lambda phone, since: Lead.objects.filter(phone=phone, created_at__gte=since).order_by("pk"),
                        phone=str, since=datetime)

    assert [lead.pk for lead in read.rows(phone="+79120000001", since=now - timedelta(days=3))] == [old.pk, new.pk]
    assert [lead.pk for lead in read.rows(phone="+79120000001", since=now - timedelta(days=1))] == [new.pk]
    assert read.rows(phone="+79120000002", since=now - timedelta(days=3)) == []


@pytest.mark.django_db
def test_compiled_sql_puts_the_values_in_their_places():
    leads = [LeadFactory(), LeadFactory()]
    statement = CompiledSQL(lambda pk: Lead.objects.filter(pk=pk).values("phone").query.sql_with_params(), pk=int)

    for lead in leads + leads:
        sql, params = statement.sql_params(pk=lead.pk)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            assert cursor.fetchall() == [(lead.phone,)]


@pytest.mark.django_db
def test_a_key_that_is_not_a_query_parameter_is_refused_when_built():
    # The key changed on its way (pk + 1) or written into the SQL: the SQL built could not take the value.
    for read in (CompiledRead(lambda pk: Lead.objects.filter(pk=pk + 1), pk=int),
                 CompiledRead(lambda pk: Lead.objects.extra(where=[f"id = {pk}"]), pk=int)):
        with pytest.raises(ValueError, match="does not reach the SQL"):
            read.first(pk=1)


@pytest.mark.django_db
def test_a_constant_equal_to_a_stand_in_is_not_taken_for_the_key():
    """Stand-ins are small ints (Django drops a lookup on a small integer column that no value in its
    range could match), so a constant may equal one: it stays a constant."""
    leads = [LeadFactory(call_tries=30_001), LeadFactory(call_tries=30_001), LeadFactory(call_tries=7)]
    read = CompiledRead(lambda pk: Lead.objects.filter(call_tries=30_001, pk__gte=pk).order_by("pk"), pk=int)

    assert [lead.pk for lead in read.rows(pk=leads[0].pk)] == [leads[0].pk, leads[1].pk]
    assert [lead.pk for lead in read.rows(pk=leads[1].pk)] == [leads[1].pk]


@pytest.mark.django_db
def test_a_value_of_another_type_or_another_key_is_refused():
    LeadFactory()
    with pytest.raises(TypeError, match="must be int"):
        lead_with_relations.first(pk="1")
    with pytest.raises(TypeError, match="expected the keys"):
        lead_with_relations.first(id=1)
    with pytest.raises(TypeError, match="a key is an int, a str or a datetime"):
        CompiledRead(lambda pk: Lead.objects.filter(pk=pk), pk=float).first(pk=1.0)


@pytest.mark.django_db
def test_a_compiled_update_writes_each_rows_own_values():
    """A BigIntegerField's value reaches psycopg as its Int8: it is sent as that again, not as a plain int."""
    started = CompiledUpdate(
        lambda pk, at, session, url: (CallAttempt.objects.filter(pk=pk, status=CallAttempt.Status.STARTING),
                                      {"started_at": at, "session_id": session, "media_session_url": url,
                                       "status": CallAttempt.Status.STARTED}),
        pk=int, at=datetime, session=int, url=str)
    attempts = [CallAttemptFactory(phone="+79120000001") for _ in range(3)]
    now = timezone.now()

    for n, attempt in enumerate(attempts[:2]):
        assert started.run(pk=attempt.pk, at=now + timedelta(seconds=n), session=2 ** 40 + n, url=f"https://m/{n}") == 1
    assert started.run(pk=attempts[0].pk, at=now, session=1, url="") == 0  # no longer STARTING: the filter holds

    rows = list(CallAttempt.objects.order_by("pk").values_list("status", "started_at", "session_id", "media_session_url"))
    assert rows == [("started", now, 2 ** 40, "https://m/0"), ("started", now + timedelta(seconds=1), 2 ** 40 + 1,
                                                                      "https://m/1"), ("starting", None, None, "")]


@pytest.mark.django_db
def test_an_update_that_would_join_another_table_is_refused():
    join = CompiledUpdate(lambda domain: (Lead.objects.filter(site__domain=domain), {"name": "x"}), domain=str)
    with pytest.raises(ValueError, match="one table"):
        join.run(domain="shop.example")


@pytest.mark.django_db
def test_updates_by_shape_take_their_keys_from_the_values_and_refuse_another_shape():
    updates = CompiledUpdates(Lead)
    leads = [LeadFactory(call_tries=1), LeadFactory(call_tries=5)]
    for lead in leads:
        assert updates.run("tried", {"pk": lead.pk, "call_state": "pending"},
                           {"call_tries": F("call_tries") + 1, "scheduled_at": None, "name": f"n{lead.pk}"}) == 1

    assert [(lead.call_tries, lead.scheduled_at, lead.name) for lead in Lead.objects.order_by("pk")] == [
        (2, None, f"n{leads[0].pk}"), (6, None, f"n{leads[1].pk}")]
    with pytest.raises(ValueError, match="another shape"):  # the same name, another expression
        updates.run("tried", {"pk": leads[0].pk, "call_state": "pending"},
                    {"call_tries": F("call_tries") + 2, "scheduled_at": None, "name": "x"})
    with pytest.raises(ValueError, match="another shape"):  # a value where the shape had None
        updates.run("tried", {"pk": leads[0].pk, "call_state": "pending"},
                    {"call_tries": F("call_tries") + 1, "scheduled_at": timezone.now(), "name": "x"})


lead_insert = CompiledInsert(Lead)


@pytest.mark.django_db
def test_a_compiled_insert_writes_the_row_that_save_writes():
    site, partner = SiteFactory(), PartnerFactory()
    fields = dict(site=site, partner=partner, ref="r1", phone="+79120000001", phone_raw="8 912 000-00-01", name="Ivan",
                  order_amount=Decimal("12.50"), extra={"k": [1, "два"]}, client_ip="203.0.113.9", currency="RUB")

    inserted = lead_insert.insert(Lead(**fields))
    saved = Lead.objects.create(**{**fields, "ref": "r2"})

    assert inserted.pk is not None and not inserted._state.adding and inserted._state.db == "default"
    differ = {"id", "public_id", "ref", "created_at", "updated_at"}
    assert {k: v for k, v in model_to_dict(Lead.objects.get(pk=inserted.pk)).items() if k not in differ} == \
        {k: v for k, v in model_to_dict(Lead.objects.get(pk=saved.pk)).items() if k not in differ}
    assert Lead.objects.get(pk=inserted.pk).public_id == inserted.public_id  # the default made for the object
    assert abs(Lead.objects.get(pk=inserted.pk).created_at - saved.created_at) < timedelta(seconds=5)

    inserted.name = "Petr"
    inserted.save()  # the object knows it is stored: an UPDATE, not a second row
    assert Lead.objects.filter(ref="r1").values_list("name", flat=True).get() == "Petr"


@pytest.mark.django_db
def test_a_row_that_needs_more_than_an_insert_is_saved_by_save():
    """A primary key of its own, a model with save signals or with a save() of its own: save() does what
    it always does."""
    heard = []
    receiver = lambda sender, instance, created, **kwargs: heard.append((instance.ref, created))  # noqa: E731
    post_save.connect(receiver, sender=Lead)
    try:
        lead_insert.insert(Lead(site=SiteFactory(), ref="signalled", phone="+79120000002"))
    finally:
        post_save.disconnect(receiver, sender=Lead)
    own = lead_insert.insert(Lead(pk=424242, site=SiteFactory(), ref="own", phone="+79120000003"))

    assert heard == [("signalled", True)]
    assert Lead.objects.filter(pk=424242, ref="own").exists() and own.pk == 424242
    # PartnerRule.save() normalises the value: a model's own save() is never bypassed.
    rule = CompiledInsert(PartnerRule).insert(PartnerRule(partner=PartnerFactory(), kind="utm_source", value=" Ads "))
    assert PartnerRule.objects.get(pk=rule.pk).value == "ads"


new_lead_insert = CompiledInsert(Lead, ignore_conflicts=True)


@contextmanager
def save_signal(on: bool) -> Iterator[None]:
    """With a save signal, a row is written by its save(), not by the compiled statement."""
    receiver = lambda sender, **kwargs: None  # noqa: E731
    if on:
        post_save.connect(receiver, sender=Lead)
    try:
        yield
    finally:
        post_save.disconnect(receiver, sender=Lead)


@pytest.mark.django_db
@pytest.mark.parametrize("by_save", [False, True], ids=["one statement", "save()"])
def test_an_insert_that_ignores_conflicts_writes_nothing_where_a_unique_constraint_holds_a_row(by_save):
    """`lead_one_open_per_ref`: one open lead per site and ref. The transaction goes on either way."""
    from django.db import IntegrityError, transaction

    site = SiteFactory()
    with save_signal(by_save), transaction.atomic():
        first = Lead(site=site, ref="order-1", phone="+79120000001")
        assert new_lead_insert.insert_new(first) is True and first.pk is not None
        second = Lead(site=site, ref="order-1", phone="+79120000002")
        assert new_lead_insert.insert_new(second) is False and second.pk is None
        other = Lead(site=site, ref="order-2", phone="+79120000003")
        assert new_lead_insert.insert_new(other) is True  # the transaction is not broken

    assert sorted(Lead.objects.values_list("ref", "phone")) == [("order-1", "+79120000001"),
                                                                ("order-2", "+79120000003")]
    Lead.objects.filter(pk=first.pk).update(status=Lead.Status.REACHED)  # closed: the ref is free again
    assert new_lead_insert.insert_new(Lead(site=site, ref="order-1", phone="+79120000004")) is True
    # Another constraint is not a row like it: raised, as an insert would.
    with save_signal(by_save), pytest.raises(IntegrityError), transaction.atomic():
        new_lead_insert.insert_new(Lead(site=site, ref="order-3", phone=None))


def test_an_insert_that_may_write_nothing_is_only_called_as_such():
    with pytest.raises(TypeError):
        new_lead_insert.insert_many([Lead()])
    with pytest.raises(TypeError):
        lead_insert.insert_new(Lead())


@pytest.mark.django_db
def test_columns_left_null_are_not_in_the_insert_and_a_row_with_a_value_in_one_keeps_it():
    insert = CompiledInsert(Lead, left_null=("closed_at", "bitrix_lead_id"))
    site = SiteFactory()
    with CaptureQueriesContext(connection) as queries:
        plain = insert.insert(Lead(site=site, ref="plain", phone="+79120000004"))
    closed = insert.insert(Lead(site=site, ref="closed", phone="+79120000005", closed_at=timezone.now(),
                                bitrix_lead_id=2**40))

    [statement] = [q["sql"] for q in queries if q["sql"].startswith("INSERT")]
    assert '"closed_at"' not in statement and '"bitrix_lead_id"' not in statement and '"name"' in statement
    assert Lead.objects.values_list("closed_at", "bitrix_lead_id").get(pk=plain.pk) == (None, None)
    stored = Lead.objects.get(pk=closed.pk)
    assert stored.closed_at == closed.closed_at and stored.bitrix_lead_id == 2**40


@pytest.mark.parametrize("field", ["name", "status", "created_at"])
def test_only_a_nullable_column_without_a_default_may_be_left_null(field):
    with pytest.raises(ValueError, match=field):
        CompiledInsert(Lead, left_null=(field,))


event_insert = CompiledInsert(LeadEvent)


def events(lead: Lead, count: int) -> list[LeadEvent]:
    return [LeadEvent(lead=lead, kind=LeadEvent.Kind.NOTE, message=f"note {n}", data={"n": n, "ru": "два"})
            for n in range(count)]


@pytest.mark.django_db
@pytest.mark.parametrize("count", [2, 3, CompiledInsert.MAX_ROWS])
def test_rows_go_in_one_insert_as_save_would_write_them(count):
    lead = LeadFactory()
    saved = events(lead, count)
    for event in saved:
        event.save()

    inserted = events(lead, count)
    with CaptureQueriesContext(connection) as queries:
        assert event_insert.insert_many(inserted) is inserted

    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
    assert all(event.pk and not event._state.adding for event in inserted)
    assert len({event.pk for event in inserted}) == count
    differ = {"id", "at"}
    for one, other in zip(inserted, saved):  # each id is its own row's
        assert {k: v for k, v in model_to_dict(LeadEvent.objects.get(pk=one.pk)).items() if k not in differ} == \
            {k: v for k, v in model_to_dict(other).items() if k not in differ}


@pytest.mark.django_db
def test_more_rows_than_one_statement_takes_go_in_several():
    lead = LeadFactory()
    many = events(lead, CompiledInsert.MAX_ROWS * 2 + 1)

    with CaptureQueriesContext(connection) as queries:
        event_insert.insert_many(many)
    event_insert.insert_many([])

    assert len(queries) == 3
    assert list(LeadEvent.objects.filter(lead=lead).order_by("pk").values_list("message", flat=True)) == \
        [event.message for event in many]
