"""What a visitor may see of their own lead (the widget): its state and next call time, nothing else.

The token handed out at intake is the lead's public id signed with SECRET_KEY (Django's signing,
own salt) and a time stamp: unguessable, kept nowhere, good for STATUS_TOKEN_HOURS.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core import signing

from leads.models import Lead

_SALT = "leadcaller.widget-status"


@dataclass(frozen=True)
class PublicState:
    # waiting: about to be called; calling: the phone rings now; scheduled: next_call_at says when;
    # reached: we spoke; manual: a person will call; closed: no more calls (done, opted out...).
    state: str
    next_call_at: datetime | None = None


def status_token_make(public_id: uuid.UUID) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(public_id.hex)


def status_token_read(token: str) -> uuid.UUID | None:
    """The lead's public id, or None for a token we did not make, or one too old."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=settings.STATUS_TOKEN_HOURS * 3600)
        return uuid.UUID(hex=value)
    except (signing.BadSignature, ValueError):
        return None


def lead_public_state(lead: Lead) -> PublicState:
    from telephony.models import CallAttempt

    status = Lead.Status
    if lead.status == status.REACHED:
        return PublicState("reached")
    if lead.status == status.MANUAL:
        return PublicState("manual")
    if lead.status not in Lead.OPEN_STATUSES:
        return PublicState("closed")
    ringing = CallAttempt.objects.filter(
        lead=lead, status__in=[CallAttempt.Status.STARTING, CallAttempt.Status.STARTED]).exists()
    if ringing:
        return PublicState("calling")
    if lead.status == status.SCHEDULED and lead.scheduled_at is not None:
        return PublicState("scheduled", lead.scheduled_at)
    return PublicState("waiting")
