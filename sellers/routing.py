"""Which seller takes a lead: the routing order, the claim, and the release.

Only sellers who are active, not on a break, serving the lead's site or partner, inside their working
hours and not on another call are offered. Each is taken with a conditional UPDATE on its lease
(`claimed_until`), so two leads racing for the last free seller never both get them: the loser moves
on to the next in its order. Every offer is kept as a SellerOffer row with the reason for the choice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from leads.models import Lead, SellerRouting
from sellers.hours import on_duty
from sellers.models import Seller, SellerOffer

logger = logging.getLogger(__name__)

# Long enough for a conversation; the attempt's result releases the seller long before, and a result
# that never comes (a lost session) cannot keep a seller off the line for longer than this.
CLAIM_LEASE = timedelta(hours=1)
Reason = SellerOffer.Reason


@dataclass(frozen=True)
class Pick:
    seller: Seller
    offer: SellerOffer


def sellers_available(lead: Lead, now: datetime) -> list[Seller]:
    """The sellers who could take this lead now, unordered."""
    serving = Q(sites=lead.site_id) | (Q(partners=lead.partner_id) if lead.partner_id else Q(pk__in=[]))
    free = Q(claimed_until=None) | Q(claimed_until__lte=now)
    rows = Seller.objects.filter(serving, free, is_active=True, on_break=False).distinct()
    return [seller for seller in rows if on_duty(seller.working_hours, ZoneInfo(seller.time_zone), now)]


def routing_order(lead: Lead, sellers: list[Seller]) -> list[tuple[Seller, str]]:
    """The sellers in the order the site's routing wants them, each with the reason it is there."""
    routing = lead.site.seller_routing
    if routing == SellerRouting.LEAST_RECENT:
        return [(s, Reason.LEAST_RECENT) for s in _least_recent(sellers)]
    if routing == SellerRouting.CRM_OWNER:
        owner = lead.site.bitrix_assigned_by_id
        first = [s for s in sellers if owner and s.bitrix_user_id == owner]
        rest = [s for s in _least_recent(sellers) if s not in first]
        return [(s, Reason.CRM_OWNER) for s in first] + [(s, Reason.LEAST_RECENT) for s in rest]
    return [(s, Reason.ROUND_ROBIN) for s in _round_robin(lead, sellers)]


def _least_recent(sellers: list[Seller]) -> list[Seller]:
    never = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(sellers, key=lambda s: (s.last_offered_at or never, s.pk))


def _round_robin(lead: Lead, sellers: list[Seller]) -> list[Seller]:
    """By id, starting after the seller this site offered its last call to."""
    last = (SellerOffer.objects.filter(attempt__lead__site_id=lead.site_id)
            .order_by("-offered_at", "-id").values_list("seller_id", flat=True).first())
    ordered = sorted(sellers, key=lambda s: s.pk)
    if last is None:
        return ordered
    return [s for s in ordered if s.pk > last] + [s for s in ordered if s.pk <= last]


def sellers_claim(*, attempt, count: int, now: datetime | None = None) -> list[Pick]:
    """Claim up to `count` sellers for the call attempt, in routing order, skipping the sellers this
    attempt was already offered. Each claimed seller gets an offer row."""
    now = now or timezone.now()
    lead = attempt.lead
    offered = set(SellerOffer.objects.filter(attempt=attempt).values_list("seller_id", flat=True))
    picks: list[Pick] = []
    for seller, reason in routing_order(lead, sellers_available(lead, now)):
        if len(picks) >= count:
            break
        if seller.pk in offered:
            continue
        pick = _claim_one(seller, reason, attempt, now)
        if pick is not None:
            picks.append(pick)
    return picks


def _claim_one(seller: Seller, reason: str, attempt, now: datetime) -> Pick | None:
    free = Q(claimed_until=None) | Q(claimed_until__lte=now)
    with transaction.atomic():
        taken = Seller.objects.filter(free, pk=seller.pk).update(
            claimed_until=now + CLAIM_LEASE, claimed_by=attempt, last_offered_at=now)
        if taken != 1:  # another lead got there first
            return None
        try:
            with transaction.atomic():
                offer = SellerOffer.objects.create(attempt=attempt, seller=seller, reason=reason)
        except IntegrityError:  # offered already by a concurrent request of the same attempt
            Seller.objects.filter(pk=seller.pk, claimed_by=attempt).update(claimed_until=None, claimed_by=None)
            return None
        if not attempt.sellers_offered:  # the attempt's end frees its sellers only when this is set
            type(attempt).objects.filter(pk=attempt.pk).update(sellers_offered=True)
            attempt.sellers_offered = True
    logger.info("seller %s offered attempt %s (%s)", seller.pk, attempt.pk, reason)
    return Pick(seller=seller, offer=offer)


def sellers_missed(*, attempt, seller_ids: list[int]) -> None:
    """The scenario rang these sellers and none of them took the call: they are free again."""
    SellerOffer.objects.filter(attempt=attempt, seller_id__in=seller_ids, result=SellerOffer.Result.RINGING).update(
        result=SellerOffer.Result.MISSED)
    Seller.objects.filter(pk__in=seller_ids, claimed_by=attempt).update(claimed_until=None, claimed_by=None)


def sellers_release(*, attempt, connected_id: int | None = None, talk_time: int | None = None,
                    answered_at: datetime | None = None) -> None:
    """The attempt ended: the seller who talked gets the talk recorded, every other offer still
    ringing was missed, and every seller it held is free. Nothing to do (no statement) for an attempt
    no seller was offered."""
    if not attempt.sellers_offered:
        return
    offers = SellerOffer.objects.filter(attempt=attempt, result=SellerOffer.Result.RINGING)
    if connected_id is not None:
        offer = offers.filter(seller_id=connected_id).first()
        if offer is not None:
            offer.result, offer.answered_at, offer.talk_time = SellerOffer.Result.CONNECTED, answered_at, talk_time
            if answered_at is not None:
                offer.time_to_answer = max(0, round((answered_at - offer.offered_at).total_seconds()))
            offer.save(update_fields=["result", "answered_at", "talk_time", "time_to_answer"])
    offers.exclude(seller_id=connected_id).update(result=SellerOffer.Result.MISSED)
    Seller.objects.filter(claimed_by=attempt).update(claimed_until=None, claimed_by=None)
