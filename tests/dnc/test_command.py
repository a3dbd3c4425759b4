"""`manage.py dnc add|remove|check NUMBER [--site | --partner] [--reason]`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from dnc.models import Entry
from tests.factories import PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db


def dnc(*args) -> str:
    out = StringIO()
    call_command("dnc", *args, stdout=out)
    return out.getvalue()


def test_add_check_and_remove_a_number_for_every_site():
    assert dnc("add", "8 912 111-22-33", "--reason", "asked by letter").startswith("listed: +79121112233, every site")
    entry = Entry.objects.get()
    assert (entry.source, entry.reason) == ("command", "asked by letter")
    assert entry.added_by is None and entry.added_by_name.startswith("manage.py dnc (")

    report = dnc("check", "+79121112233")
    assert report.startswith("listed: +79121112233") and "asked by letter" in report
    assert dnc("add", "+79121112233").startswith("already listed") and Entry.objects.count() == 1

    assert dnc("remove", "+79121112233", "--reason", "mistake") == "removed: +79121112233, 1 entry\n"
    entry.refresh_from_db()
    assert entry.removed_at and entry.remove_reason == "mistake"
    assert dnc("check", "+79121112233") == "not listed: +79121112233\n"
    assert dnc("remove", "+79121112233") == "not listed for this scope: +79121112233\n"


def test_a_site_or_partner_scope():
    site, partner = SiteFactory(domain="shop.example"), PartnerFactory(code="cpa")
    dnc("add", "+79121112233", "--site", "www.shop.example")
    dnc("add", "+79121112233", "--partner", "cpa")

    assert {(e.scope, e.site, e.partner) for e in Entry.objects.all()} == {("site", site, None),
                                                                           ("partner", None, partner)}
    assert dnc("check", "+79121112233", "--site", SiteFactory().domain).startswith("not listed")


@pytest.mark.parametrize("args, message", [
    (["add", "not a number"], "not a phone number"),
    (["add", "12"], "wrong number of digits"),
    (["add", "+79121112233", "--site", "nowhere.example"], "No site has the domain"),
    (["add", "+79121112233", "--partner", "nobody"], "No partner has the code"),
    (["add", "+79121112233", "--reason", "x" * 301], "longer than 300"),
    (["remove", "bad"], "not a phone number"),
    (["check", ""], "Enter a phone number"),
])
def test_bad_input_is_a_clear_error_and_changes_nothing(args, message):
    dnc("add", "+79121112244")
    before = list(Entry.objects.values())

    with pytest.raises(CommandError, match=message):
        dnc(*args)
    assert list(Entry.objects.values()) == before


def test_a_site_and_a_partner_together_are_refused_by_the_parser():
    with pytest.raises(CommandError, match="not allowed with"):
        dnc("add", "+79121112233", "--site", "a.example", "--partner", "b")
    assert not Entry.objects.exists()
