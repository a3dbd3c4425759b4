"""The do-not-call list as CSV: export for a spreadsheet (formula-safe), and import, all or nothing.

Import: UTF-8 (a BOM is fine), comma or semicolon separated, a header row naming `phone` and any of
`site` (a domain), `partner` (a code) and `reason`. A file with one bad row lists every bad row and
changes nothing; a number already listed for its scope is left as it is. Each row is then listed in a
transaction of its own (as dnc_add does): one transaction would hold a number lock per row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any, Iterable

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from dnc.models import Entry
from dnc.services import dnc_add
from leadcaller.spreadsheet import spreadsheet_text, spreadsheet_value
from leads.models import Partner, Site
from leads.phones import PhoneError, phone_normalize
from leads.selectors import host_normalize

COLUMNS = ["phone", "scope", "site", "partner", "source", "reason", "listed_at", "listed_by", "removed_at",
           "removed_by", "remove_reason"]
IMPORT_COLUMNS = {"phone", "site", "partner", "reason"}
MAX_ROWS = 20_000  # about half a minute of work in one admin request


def entries_csv(entries: Iterable[Entry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for entry in entries:
        row = [entry.phone, entry.scope, entry.site.domain if entry.site else "",
               entry.partner.code if entry.partner else "", entry.source, entry.reason,
               _iso(entry.added_at), entry.added_by_name, _iso(entry.removed_at), entry.removed_by_name,
               entry.remove_reason]
        writer.writerow([spreadsheet_text(str(value)) for value in row])
    return out.getvalue()


def _iso(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="seconds") if moment else ""


@dataclass(frozen=True)
class Row:
    phone: str
    site: Site | None
    partner: Partner | None
    reason: str


@dataclass
class Parsed:
    sites: dict[str, Site]  # by domain, and partners by code: what a row may name
    partners: dict[str, Partner]
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def csv_parse(data: bytes) -> Parsed:
    """Read an uploaded file; every problem is named with its line."""
    parsed = Parsed(Site.objects.in_bulk(field_name="domain"), Partner.objects.in_bulk(field_name="code"))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        parsed.errors.append(_("The file is not UTF-8 text."))
        return parsed
    first = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text), delimiter=";" if first.count(";") > first.count(",") else ",")
    try:
        header = {(name or "").strip().lower() for name in reader.fieldnames or []}
        if "phone" not in header:
            parsed.errors.append(_("The first row must name the columns, among them phone."))
            return parsed
        for line, raw in enumerate(reader, start=2):
            if len(parsed.rows) + len(parsed.errors) >= MAX_ROWS:
                parsed.errors.append(_("More than %(n)d rows: split the file.") % {"n": MAX_ROWS})
                break
            _parse_row(line, {(k or "").strip().lower(): spreadsheet_value(v or "") for k, v in raw.items()
                              if isinstance(v, str)}, parsed)
    except csv.Error as exc:
        parsed.errors.append(_("Line %(line)d: %(error)s") % {"line": reader.line_num, "error": exc})
    return parsed


def _parse_row(line: int, cells: dict[str, str], parsed: Parsed) -> None:
    if not any(cells.values()):
        return  # an empty line
    problems = []
    phone = ""
    try:
        phone = phone_normalize(cells.get("phone", ""), region=settings.PHONE_REGION)
    except PhoneError as exc:
        problems.append(str(exc))
    site = parsed.sites.get(host_normalize(cells["site"])) if cells.get("site") else None
    if cells.get("site") and site is None:
        problems.append(_("no site has the domain %(domain)s") % {"domain": cells["site"][:100]})
    partner = parsed.partners.get(cells["partner"]) if cells.get("partner") else None
    if cells.get("partner") and partner is None:
        problems.append(_("no partner has the code %(code)s") % {"code": cells["partner"][:100]})
    if site and partner:
        problems.append(_("a site or a partner, not both"))
    if len(cells.get("reason", "")) > 300:
        problems.append(_("the reason is longer than 300 characters"))
    if problems:
        parsed.errors.append(_("Line %(line)d: %(problems)s") % {"line": line, "problems": "; ".join(problems)})
    else:
        parsed.rows.append(Row(phone, site, partner, cells.get("reason", "")))


def csv_import(*, rows: list[Row], user: Any) -> tuple[int, int]:
    """List every row of a file that csv_parse() found no fault in. Returns (listed now, listed already)."""
    created = 0
    for row in rows:
        _entry, new = dnc_add(phone=row.phone, source=Entry.Source.IMPORT, site=row.site, partner=row.partner,
                              reason=row.reason, user=user)
        created += new
    return created, len(rows) - created
