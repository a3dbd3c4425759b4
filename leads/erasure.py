"""Erasing personal data: one person's on request, and every lead past its site's retention period.

An erased lead keeps what the dashboard counts (site, partner, times, status, call outcomes, order
sum and currency, UTM tags) and loses who it was: name, phone, email, comment, address, browser,
the request as received, its extra form fields and its ref; its calls lose the number, the custom
data and the recording; its consent proof its address, browser and page (what was agreed to, and
when, stay); its timeline and Telegram texts lose those values. The do-not-call list
keeps the number as its keyed hash alone, so it still matches. Bitrix24 keeps its own copy: erase
the person there too. Every erasure is audited (leads.models.Erasure) without the number in clear.
"""

from __future__ import annotations

import html
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from consent.services import consent_proof_erase_personal
from dnc.numbers import number_hash
from dnc.services import dnc_number_erase
from leads.models import Erasure, Lead, LeadEvent, Site
from leads import hooks, texts
from leads.services import lead_event_add, lead_opted_out
from notifications.models import Notification
from telephony.models import CallAttempt, ProbeCall

logger = logging.getLogger(__name__)

ERASED = "…"
# What an erased lead keeps of each personal field.
PERSONAL_FIELDS = {"name": "", "phone": "", "phone_raw": "", "email": "", "comment": "", "client_ip": None,
                   "user_agent": "", "raw_request": {}, "extra": {}}
BATCH = 500


def person_erase(*, phone: str, user: Any = None, actor_name: str = "", note: str = "") -> Erasure:
    """Erase everything about the person with this E.164 number, on their request. Their open leads end
    opted out first (nobody calls a person who asked to be forgotten)."""
    leads = list(Lead.objects.filter(phone=phone, erased_at=None).select_related("site"))
    with transaction.atomic():
        for lead in leads:
            if lead.is_open:
                lead_opted_out(lead=lead, reason=_("Personal data erased on request."))
            _lead_erase(lead, card=True)
        ProbeCall.objects.filter(phone=phone).update(phone="")
        entries = dnc_number_erase(phone=phone)
        erasure = Erasure.objects.create(
            kind=Erasure.Kind.REQUEST, phone_hash=number_hash(phone), leads=len(leads), dnc_entries=entries,
            user=user if getattr(user, "pk", None) else None, note=note[:300],
            username=actor_name or (user.get_username() if user else ""))
    logger.info("personal data erased on request: %d leads, %d do-not-call entries", len(leads), entries)
    return erasure


def retention_erase_due(*, now=None) -> Erasure | None:
    """Erase the closed leads older than their site's retention period (DATA_RETENTION_DAYS, or the
    site's own). Open leads wait until they end. Returns the run's audit entry, None when nothing was due."""
    now = now or timezone.now()
    due = Q()
    for site_id, days in Site.objects.values_list("pk", "retention_days"):
        days = settings.DATA_RETENTION_DAYS if days is None else days
        if days:
            due |= Q(site_id=site_id, created_at__lt=now - timedelta(days=days))
    if not due:
        return None
    erased = entries = 0
    candidates = Lead.objects.filter(due, erased_at=None).exclude(status__in=Lead.OPEN_STATUSES)
    while batch := list(candidates.select_related("site")[:BATCH]):
        with transaction.atomic():
            for lead in batch:
                entries += dnc_number_erase(phone=lead.phone) if lead.phone else 0
                _lead_erase(lead, card=False)  # an edit of every old card would hold up new ones
        erased += len(batch)
    if not erased:
        return None
    logger.info("retention: personal data of %d leads erased", erased)
    return Erasure.objects.create(kind=Erasure.Kind.RETENTION, leads=erased, dnc_entries=entries,
                                  username="retention")


def _lead_erase(lead: Lead, *, card: bool) -> None:
    values = _personal_values(lead)
    now = timezone.now()
    Lead.objects.filter(pk=lead.pk).update(
        **PERSONAL_FIELDS, ref=f"erased-{lead.public_id}", erased_at=now, updated_at=now,
        manual_reason=_scrub(lead.manual_reason, values), opt_out_reason=_scrub(lead.opt_out_reason, values),
        manual_params=_scrub_params(lead.manual_params, values))
    CallAttempt.objects.filter(lead=lead).update(phone="", custom_data="", record_url="")
    consent_proof_erase_personal(lead=lead)
    for event in LeadEvent.objects.filter(lead=lead):
        event.message = _scrub(event.message, values)
        event.params = _scrub_params(event.params, values)
        event.data = {key: value for key, value in event.data.items() if key != "ip"}
        event.save(update_fields=["message", "params", "data"])
    Notification.objects.filter(lead=lead).update(text="")
    for digest in Notification.objects.filter(cards__lead=lead).distinct():
        digest.text = _scrub(digest.text, values)
        digest.save(update_fields=["text"])
    for name, value in PERSONAL_FIELDS.items():
        setattr(lead, name, value)
    lead.erased_at = now
    lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE, message=texts.text("erased"))
    if card:
        hooks.lead_changed(lead)


def _personal_values(lead: Lead) -> list[str]:
    """Every form in which the lead's personal data may sit in a text: as stored, HTML-escaped (Telegram),
    and cut as the card and the digest cut it; longest first, so a part never hides the whole."""
    values = set()
    for value in (lead.phone, lead.phone_raw, lead.name, lead.email, lead.comment, lead.client_ip, lead.ref):
        for text in (str(value or "").strip(), str(value or "")[:60], str(value or "")[:200],
                     str(value or "")[:500]):
            if len(text) >= 3:  # shorter would blank out ordinary words
                values.update({text, html.escape(text, quote=False)})
    return sorted(values, key=len, reverse=True)


def _scrub(text: str, values: list[str]) -> str:
    for value in values:
        text = text.replace(value, ERASED)
    return text


def _scrub_params(params: dict, values: list[str]) -> dict:
    """A timeline entry's parameters (leads/texts.py), scrubbed like its sentence."""
    return {key: _scrub(value, values) if isinstance(value, str) else value for key, value in (params or {}).items()}
