"""The partner list kept in Bitrix24 (companies of the partner type), mirrored into Partner."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from leads import bitrix
from leads.bitrix import BitrixClient
from leads.models import Partner

logger = logging.getLogger(__name__)


def partners_sync(client: BitrixClient) -> dict[str, int]:
    """Fetch every page of partners; add new ones, update names, deactivate (never delete) the gone.

    Raises BitrixError when the list cannot be read; the cached Partner table stays as it was.
    """
    companies = list(client.list_all("crm.company.list", {
        "filter": settings.BITRIX_PARTNER_FILTER, "select": ["ID", "TITLE"], "order": {"ID": "ASC"}}))
    now = timezone.now()
    counts = {"created": 0, "updated": 0, "deactivated": 0}
    seen = set()
    for company in companies:
        company_id, title = int(company["ID"]), (company.get("TITLE") or "").strip() or f"#{company['ID']}"
        seen.add(company_id)
        updated = Partner.objects.filter(bitrix_company_id=company_id).update(name=title[:200], is_active=True,
                                                                               synced_at=now)
        if updated:
            counts["updated"] += 1
        else:
            _create(company_id, title, now)
            counts["created"] += 1
    counts["deactivated"] = (Partner.objects.filter(bitrix_company_id__isnull=False, is_active=True)
                             .exclude(bitrix_company_id__in=seen).update(is_active=False, synced_at=now))
    logger.info("partners synced from Bitrix24: %s", counts)
    return counts


def _create(company_id: int, title: str, now) -> None:
    base = slugify(title)[:50] or "partner"
    for code in (base, f"{base}-{company_id}"):
        try:
            with transaction.atomic():
                Partner.objects.create(name=title[:200], code=code, bitrix_company_id=company_id, synced_at=now)
            return
        except IntegrityError:
            continue
    raise IntegrityError(f"no free partner code for Bitrix24 company {company_id}")


def partners_sync_if_connected() -> dict[str, int]:
    client = bitrix.client_from_settings()
    return partners_sync(client) if client else {}
