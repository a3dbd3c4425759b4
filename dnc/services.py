"""Listing, unlisting and checking numbers. Every change says who made it and why; nothing is deleted."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet, Subquery
from django.utils import timezone

from dnc.models import ACTIVE, Entry
from dnc.numbers import number_hash, number_lock
from leads.models import Lead, Partner, Site

Scope = Entry.Scope


def _target(site: Site | None, partner: Partner | None) -> dict[str, Any]:
    if site is not None and partner is not None:
        raise ValueError("an entry applies to every site, one site or one partner, not to a site and a partner")
    if site is not None:
        return {"scope": Scope.SITE, "site": site, "partner": None}
    if partner is not None:
        return {"scope": Scope.PARTNER, "site": None, "partner": partner}
    return {"scope": Scope.ALL, "site": None, "partner": None}


def _actor(user: Any, name: str) -> dict[str, Any]:
    """Who made a change: a user (kept by name too, should the user be deleted), or a named process."""
    return {"by": user if getattr(user, "pk", None) else None, "name": name or (user.get_username() if user else "")}


def dnc_add(*, phone: str, source: str, site: Site | None = None, partner: Partner | None = None, reason: str = "",
            user: Any = None, actor_name: str = "", lead: Lead | None = None) -> tuple[Entry, bool]:
    """List an E.164 number for every site, or for one site or partner. Returns (entry, created):
    a number already listed for that scope keeps its first entry, unchanged."""
    target = _target(site, partner)
    actor = _actor(user, actor_name)
    with transaction.atomic():
        number_lock(phone)  # a dial of this number now waits for this listing (dnc/numbers.py)
        existing = Entry.objects.filter(ACTIVE, phone_hash=number_hash(phone), **target).first()
        if existing is not None:
            return existing, False
        entry = Entry.objects.create(phone=phone, phone_hash=number_hash(phone), source=source, reason=reason[:300],
                                     lead=lead, added_by=actor["by"], added_by_name=actor["name"], **target)
    return entry, True


def dnc_remove(*, phone: str, site: Site | None = None, partner: Partner | None = None, reason: str = "",
               user: Any = None, actor_name: str = "") -> int:
    """Take a number off the list for exactly this scope (every site, one site or one partner). Returns
    how many entries were active (0 or 1)."""
    entries = Entry.objects.filter(phone_hash=number_hash(phone), **_target(site, partner))
    return dnc_entries_remove(entries=entries, reason=reason, user=user, actor_name=actor_name)


def dnc_entries_remove(*, entries: QuerySet[Entry], reason: str = "", user: Any = None, actor_name: str = "") -> int:
    """Stamp the active ones among `entries` removed: kept as history, with who removed them, when and why.
    (No lock: a dial that still sees such an entry only leaves a number uncalled.)"""
    actor = _actor(user, actor_name)
    return entries.filter(ACTIVE).update(removed_at=timezone.now(), removed_by=actor["by"],
                                         removed_by_name=actor["name"], remove_reason=reason[:300])


def dnc_entries(*, phone: str, site: Site | None = None, partner: Partner | None = None) -> QuerySet[Entry]:
    """The active entries for a number: all of them, or those that stop a lead of `site` and `partner`."""
    entries = Entry.objects.filter(ACTIVE, phone_hash=number_hash(phone)).select_related("site", "partner")
    if site is not None or partner is not None:
        entries = entries.filter(_applies(site.pk if site else None, partner.pk if partner else None))
    return entries.order_by("added_at", "id")


def dnc_entry_applying(*, phone: str, site_id: int, partner_id: int | None) -> Entry | None:
    """The entry that forbids dialling this number for a lead of this site and partner, or None."""
    return _applying(number_hash(phone), site_id, partner_id).first()


def dnc_entry_applying_id(*, phone_hash: str, site_id: int, partner_id: int | None) -> Subquery:
    """dnc_entry_applying()'s id (NULL: none) as a subquery, for a statement that reads or locks other rows
    too; the number as its `number_hash`. Under the number's lock, taken in an earlier statement of the
    transaction, it sees every listing."""
    return Subquery(_applying(phone_hash, site_id, partner_id).values("pk")[:1])


def _applying(phone_hash: str, site_id: int, partner_id: int | None) -> QuerySet[Entry]:
    return Entry.objects.filter(ACTIVE, _applies(site_id, partner_id), phone_hash=phone_hash).order_by("added_at", "id")


def dnc_entry_blocking(*, phone: str, site_id: int, partner_id: int | None) -> Entry | None:
    """dnc_entry_applying(), under the number's lock for the rest of the caller's transaction: call it in
    the one that writes the call attempt."""
    number_lock(phone)
    return dnc_entry_applying(phone=phone, site_id=site_id, partner_id=partner_id)


def _applies(site_id: int | None, partner_id: int | None) -> Q:
    condition = Q(scope=Scope.ALL) | Q(scope=Scope.SITE, site_id=site_id)
    if partner_id is not None:
        condition |= Q(scope=Scope.PARTNER, partner_id=partner_id)
    return condition


def dnc_number_erase(*, phone: str) -> int:
    """Keep the number's entries (active and removed) as its hash alone. Returns how many were changed."""
    return Entry.objects.filter(phone_hash=number_hash(phone)).exclude(phone="").update(
        phone="", erased_at=timezone.now())
