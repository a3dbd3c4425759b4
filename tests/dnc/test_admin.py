"""The do-not-call list in the admin: add, search by number, remove as history, CSV out and in."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from dnc.models import Entry
from dnc.services import dnc_add, dnc_number_erase
from tests.factories import LeadFactory, PartnerFactory, SiteFactory

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/dnc/entry/"


@pytest.fixture
def admin_client_of(client):
    def login(user):
        client.force_login(user)
        return client
    return login


def test_an_administrator_adds_a_number_in_the_admin_and_it_says_who(admin_client_of, administrator):
    client = admin_client_of(administrator)
    response = client.post(f"{CHANGELIST}add/", {"phone": "8 912 111-22-33", "reason": "asked in a letter"})

    assert response.status_code == 302
    entry = Entry.objects.get()
    assert (entry.phone, entry.scope, entry.source, entry.added_by) == ("+79121112233", "all", "admin", administrator)
    again = client.post(f"{CHANGELIST}add/", {"phone": "+79121112233"}, follow=True)
    assert Entry.objects.count() == 1 and "already" in again.content.decode()


@pytest.mark.parametrize("data", [{"phone": "no number"}, {"phone": "+79121112233", "site": "SITE", "partner": "P"}])
def test_a_bad_entry_in_the_admin_is_refused_and_changes_nothing(admin_client_of, administrator, data):
    site, partner = SiteFactory(), PartnerFactory()
    data = {**data, **({"site": site.pk, "partner": partner.pk} if "site" in data else {})}
    response = admin_client_of(administrator).post(f"{CHANGELIST}add/", data)

    assert response.status_code == 200 and response.context["adminform"].form.errors
    assert not Entry.objects.exists()


def test_a_typed_number_finds_its_entries_even_once_erased(admin_client_of, manager):
    dnc_add(phone="+79121112233", source="admin", reason="first")
    dnc_add(phone="+79121112233", source="admin", site=SiteFactory())
    dnc_add(phone="+79125550000", source="admin")
    dnc_number_erase(phone="+79121112233")

    page = admin_client_of(manager).get(CHANGELIST, {"q": "8 (912) 111-22-33"})
    assert page.status_code == 200
    assert {e.phone_hash for e in page.context["cl"].result_list} == {
        Entry.objects.filter(reason="first").get().phone_hash}
    assert len(page.context["cl"].result_list) == 2 and "erased (hash" in page.content.decode()


def test_removing_keeps_the_entry_as_history_with_who_when_and_why(admin_client_of, administrator):
    entry, _created = dnc_add(phone="+79121112233", source="admin")
    response = admin_client_of(administrator).post(CHANGELIST, {
        "action": "remove_entries", "_selected_action": [entry.pk], "reason": "listed by mistake"})

    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.removed_by, entry.remove_reason) == (administrator, "listed by mistake") and entry.removed_at
    relisted, created = dnc_add(phone="+79121112233", source="admin")
    assert created and Entry.objects.count() == 2, "a new listing is a new entry; the old one stays"


def test_a_manager_may_not_remove_nor_edit_nor_delete(admin_client_of, manager):
    entry, _created = dnc_add(phone="+79121112233", source="admin")
    client = admin_client_of(manager)
    client.post(CHANGELIST, {"action": "remove_entries", "_selected_action": [entry.pk], "reason": "x"})

    entry.refresh_from_db()
    assert entry.removed_at is None
    assert client.post(f"{CHANGELIST}{entry.pk}/delete/").status_code == 403
    assert client.post(f"{CHANGELIST}{entry.pk}/change/", {"reason": "edited"}).status_code == 403
    assert Entry.objects.get().reason == ""


def test_the_csv_export_is_formula_safe_and_imports_back(admin_client_of, administrator):
    site = SiteFactory(domain="shop.example")
    dnc_add(phone="+79121112233", source="admin", reason='=HYPERLINK("http://evil.example","x")')
    dnc_add(phone="+79121112244", source="api", site=site, reason="-1+1")
    response = admin_client_of(administrator).post(CHANGELIST, {
        "action": "export_csv", "_selected_action": list(Entry.objects.values_list("pk", flat=True))})

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["reason"] for row in rows] == ["'=HYPERLINK(\"http://evil.example\",\"x\")", "'-1+1"]
    assert [row["phone"] for row in rows] == ["'+79121112233", "'+79121112244"]
    assert rows[1]["site"] == "shop.example" and rows[1]["source"] == "api"

    Entry.objects.all().delete()
    imported = admin_client_of(administrator).post(f"{CHANGELIST}import/", {
        "file": SimpleUploadedFile("list.csv", response.content, "text/csv")})
    assert imported.status_code == 302
    assert sorted(Entry.objects.values_list("phone", "scope", "source", "reason")) == [
        ("+79121112233", "all", "import", '=HYPERLINK("http://evil.example","x")'),
        ("+79121112244", "site", "import", "-1+1")]


def test_an_import_with_a_bad_row_lists_nothing_and_names_each_bad_line(admin_client_of, manager):
    PartnerFactory(code="cpa")
    data = ("\ufeffphone;partner;reason\n+7 912 111-22-33;cpa;ok\nnot a number;;\n+79121112244;ghost;\n"
            "+79121112255;;" + "x" * 301 + "\n").encode()
    response = admin_client_of(manager).post(f"{CHANGELIST}import/", {
        "file": SimpleUploadedFile("list.csv", data, "text/csv")})

    assert response.status_code == 400
    errors = response.context["errors"]
    assert [error.split(":")[0] for error in errors] == ["Line 3", "Line 4", "Line 5"]
    assert "no partner has the code ghost" in errors[1] and "300" in errors[2]
    assert not Entry.objects.exists()


@pytest.mark.parametrize("data", [b"\xff\xfe\x00p", b"number,reason\n+79121112233,x\n"])
def test_a_file_that_is_not_utf8_or_has_no_phone_column_is_refused(admin_client_of, administrator, data):
    response = admin_client_of(administrator).post(f"{CHANGELIST}import/", {
        "file": SimpleUploadedFile("list.csv", data, "text/csv")})

    assert response.status_code == 400 and response.context["errors"]
    assert not Entry.objects.exists()


def test_the_lead_page_says_whether_and_why_its_number_may_not_be_called(admin_client_of, manager):
    lead = LeadFactory(phone="+79121112233")
    page = admin_client_of(manager).get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    assert "not listed" in page

    dnc_add(phone="+79121112233", source="key_press", reason="pressed 9")
    page = admin_client_of(manager).get(f"/admin/leads/lead/{lead.pk}/change/").content.decode()
    assert "every site, opt-out key pressed during a call, " + f"{timezone.now():%Y-%m-%d}" in page
