"""What a person does with a lead's call cadence in the admin: skip the next call, stop the calls.

Both act only on a call that is waiting (never one being dialled: its outcome routes the lead), with
a conditional UPDATE on the due time they read, so a worker claiming the call at that moment wins and
the click changes nothing. Each writes to the timeline with the user; a second click is harmless.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from leads import services as lead_services
from leads.models import Lead, LeadEvent
from telephony.call_plan import NO_ANSWER, calls_counted, next_call_at
from telephony.policy import call_settings_for

State = Lead.StepState
WAITING = (Lead.Status.IN_PROGRESS, Lead.Status.SCHEDULED)
UNREACHED = ("no_answer", "busy", "voicemail")


def lead_call_skip_next(*, lead: Lead, user: AbstractBaseUser) -> bool:
    """Drop the next planned call; the cadence goes on from the one after it (counted from the skipped
    call's due time). When it was the last one, the calls stop. False: no call was waiting."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().select_related("site").get(pk=lead.pk)
        if lead.status not in WAITING or lead.call_state != State.PENDING or lead.scheduled_at is None:
            return False
        outcome = lead.last_call_outcome if lead.last_call_outcome in UNREACHED else NO_ANSWER
        used = calls_counted(lead) + 1
        at, calls = next_call_at(lead, call_settings_for(lead.site), outcome=outcome, after=lead.scheduled_at,
                                 used=used)
        if at is None:
            return _stop(lead, user, _("the skipped call was the cadence's last (%(n)d calls)") % {"n": calls})
        if not Lead.objects.filter(pk=lead.pk, call_state=State.PENDING, scheduled_at=lead.scheduled_at).update(
                call_skips=lead.call_skips + 1, scheduled_at=at, call_queued_at=None):
            return False
        lead_services.lead_event_add(
            lead=lead, kind=LeadEvent.Kind.NOTE, step="call", actor=user,
            message=_("skipped call %(n)d; call %(next)d of %(max)d at %(at)s") % {
                "n": used, "next": used + 1, "max": calls, "at": f"{at:%Y-%m-%d %H:%M %Z}"})
    return True


def lead_calls_stop(*, lead: Lead, user: AbstractBaseUser) -> bool:
    """No more automatic calls: the lead goes to manual handling with who stopped them."""
    with transaction.atomic():
        lead = Lead.objects.select_for_update().get(pk=lead.pk)
        if lead.status not in WAITING or lead.call_state != State.PENDING:
            return False
        return _stop(lead, user, "")


def _stop(lead: Lead, user: AbstractBaseUser, why: str) -> bool:
    if not Lead.objects.filter(pk=lead.pk, call_state=State.PENDING, scheduled_at=lead.scheduled_at).update(
            call_state=State.SKIPPED, scheduled_at=None):
        return False
    reason = _("Calls stopped by %(user)s") % {"user": user} + (f": {why}" if why else "") + "."
    return lead_services.lead_to_manual(lead=lead, reason=reason, step="call", actor=user, alert=False)
