"""A seller on the line: what the scenario needs for the offer and seller-first modes, and the
sellers it rings, chosen here (sellers/routing.py) so the routing stays on the server.

The scenario asks `POST /api/v1/telephony/voximplant/sellers/` for the next seller(s) whenever it
needs one, naming the sellers it rang who did not take the call; those are freed at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from leadcaller import metrics
from leads.models import CallMode, Lead, RingStrategy, Site
from sellers.routing import sellers_claim, sellers_missed, sellers_release
from telephony.models import CallAttempt

CONNECT_DIGIT = "1"  # the seller's "put me through", and the lead's "a manager now" in offer mode
SIMULTANEOUS_MAX = 3  # sellers rung at once; more would have several answer for one lead
CONVERSATION_LIMIT = timedelta(hours=2)


def seller_settings(site: Site) -> dict:
    """The seller part of the scenario's settings answer."""
    minutes = site.callback_promise_minutes
    return {
        "call_mode": site.call_mode,
        "seller_first_fallback": site.seller_first_fallback,
        "ring_strategy": site.ring_strategy,
        "seller_ring_seconds": site.seller_ring_seconds,
        "seller_wait_seconds": site.seller_wait_seconds,
        "connect_digit": CONNECT_DIGIT,
        "record_calls": site.record_calls,
        "sellers_url": settings.PUBLIC_BASE_URL + reverse("voximplant-sellers"),
        "offer_text": _("Press %(digit)s to talk to a manager right now.") % {"digit": CONNECT_DIGIT},
        "hold_text": _("Connecting you to a manager, please stay on the line."),
        "promise_text": _("All managers are busy. A manager will call you back within %(n)d minutes. Goodbye.")
        % {"n": minutes},
    }


def sellers_next(*, attempt: CallAttempt, missed: list[int]) -> list[dict]:
    """Free the sellers who did not take the call, then claim the next one (or several, when the
    site rings them at once). Empty: nobody is free now."""
    if missed:
        sellers_missed(attempt=attempt, seller_ids=missed)
    site = attempt.lead.site
    if site.call_mode == CallMode.RECORDING:
        return []
    count = SIMULTANEOUS_MAX if site.ring_strategy == RingStrategy.SIMULTANEOUS else 1
    return [{"id": pick.seller.pk, "name": pick.seller.name, "phone": pick.seller.phone,
             "whisper_text": whisper_text(attempt.lead)}
            for pick in sellers_claim(attempt=attempt, count=count)]


def in_progress_limit(attempt: CallAttempt) -> timedelta:
    """How long past the result timeout a session the call history shows running is still waited for:
    a conversation with a seller may take much longer than a message."""
    return CONVERSATION_LIMIT if attempt.sellers_offered else timedelta(minutes=10)


def whisper_text(lead: Lead) -> str:
    """What the seller hears before being put through; the lead's name and site, never the number."""
    site = lead.site
    return _("A lead from %(site)s, name: %(name)s. Press %(digit)s to connect.") % {
        "site": site.name or site.domain, "name": lead.name or _("not given"), "digit": CONNECT_DIGIT}


def seller_result_apply(attempt: CallAttempt, result, now: datetime) -> None:
    """Keep the seller, talk time and recording of a finished attempt, and free every seller it held.
    A seller id the attempt never offered is ignored: the token proves the attempt, not the seller."""
    seller_id = result.seller_id if result.result == CallAttempt.Outcome.CONNECTED else None
    offered = seller_id is not None and attempt.sellers_offered and attempt.seller_offers.filter(
        seller_id=seller_id).exists()
    if not offered:
        seller_id = None
    answered_at = None
    if seller_id is not None:
        talk = result.talk_time or 0
        answered_at = now - timedelta(seconds=talk)
        attempt.seller_id, attempt.talk_time, attempt.seller_connected_at = seller_id, talk, answered_at
        wait = (answered_at - attempt.lead.created_at).total_seconds()
        transaction.on_commit(lambda: metrics.SPEED_TO_CONVERSATION.observe(max(0.0, wait)))
    if _keepable_url(result.recording_url):
        attempt.record_url = result.recording_url
    sellers_release(attempt=attempt, connected_id=seller_id, talk_time=attempt.talk_time, answered_at=answered_at)


def _keepable_url(url: str) -> bool:
    if not url or len(url) > 500:
        return False
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return False
    return True
