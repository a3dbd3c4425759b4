"""What a person does with a lead in the admin. Each action goes through the same pipeline as the
automatic path, is written to the timeline with the user, and is harmless when clicked twice."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from leads import hooks, pipeline
from leads.models import Lead, LeadEvent
from leads.services import lead_event_add
from leads.texts import Text, text

State = Lead.StepState
CLOSED = (Lead.Status.REACHED, Lead.Status.HANDLED, Lead.Status.SPAM, Lead.Status.OPTED_OUT)


def lead_take(*, lead: Lead, user: AbstractBaseUser) -> bool:
    """Assign the lead to `user`. False when it already was theirs."""
    if not Lead.objects.filter(pk=lead.pk).exclude(assigned_to=user).update(assigned_to=user):
        return False
    lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE, message=text("taken", user=str(user)), actor=user)
    hooks.lead_taken(lead)
    return True


def lead_call_again(*, lead: Lead, user: AbstractBaseUser, ignore_hours: bool = False) -> bool:
    """Dial the lead again now (or at the next calling hour), whatever happened to the last call."""
    if lead.status in CLOSED:
        return False
    with transaction.atomic():
        reopened = Lead.objects.filter(pk=lead.pk, call_state__in=[State.DONE, State.FAILED, State.SKIPPED,
                                                                   State.PENDING]).update(
            call_state=State.PENDING, scheduled_at=timezone.now(), call_tries=0, call_queued_at=timezone.now(),
            call_ignore_hours=ignore_hours, status=Lead.Status.IN_PROGRESS, manual_reason="", manual_code="", manual_params={},
            manual_since=None)
        if not reopened:  # a call is under way
            return False
        message = text("call_now") if ignore_hours else text("call_again")
        lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE, step="call", message=message, actor=user)
        transaction.on_commit(lambda: pipeline.lead_dispatch(lead.pk, steps=["call"]))
    return True


def lead_call_now(*, lead: Lead, user: AbstractBaseUser) -> bool:
    """Call again at once, even outside calling hours (the person takes responsibility)."""
    return lead_call_again(lead=lead, user=user, ignore_hours=True)


def lead_retry_crm(*, lead: Lead, user: AbstractBaseUser) -> bool:
    """Run the CRM step again (after the credentials or the data were fixed)."""
    with transaction.atomic():
        if not Lead.objects.filter(pk=lead.pk, crm_state__in=[State.FAILED, State.SKIPPED]).update(
                crm_state=State.PENDING, crm_due_at=timezone.now(), crm_tries=0, crm_queued_at=timezone.now()):
            return False
        lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE, step="crm", message=text("retry_crm"), actor=user)
        transaction.on_commit(lambda: pipeline.lead_dispatch(lead.pk, steps=["crm"]))
    return True


def lead_resend_notification(*, lead: Lead, user: AbstractBaseUser) -> bool:
    """Send the lead's card again as a new message (e.g. after the chat was repaired)."""
    if not hooks.resend_asked(lead):
        return False
    lead_event_add(lead=lead, kind=LeadEvent.Kind.NOTE, step="notify", message=text("resend_card"), actor=user)
    return True


def lead_mark_handled(*, lead: Lead, user: AbstractBaseUser, outcome: str, comment: str = "") -> bool:
    message = (text("handled_comment", outcome=outcome, comment=comment) if comment
               else text("handled", outcome=outcome))
    return _close(lead, user, Lead.Status.HANDLED, message)


def lead_mark_spam(*, lead: Lead, user: AbstractBaseUser, comment: str = "") -> bool:
    return _close(lead, user, Lead.Status.SPAM, text("spam_comment", comment=comment) if comment else text("spam"))


def _close(lead: Lead, user: AbstractBaseUser, status: str, message: Text) -> bool:
    """Finish the lead; steps still waiting (a scheduled call) are cancelled, nothing else is undone."""
    now = timezone.now()
    with transaction.atomic():
        if not Lead.objects.filter(pk=lead.pk, status__in=Lead.OPEN_STATUSES).update(
                status=status, closed_at=now, assigned_to=user, updated_at=now):
            return False
        Lead.objects.filter(pk=lead.pk, call_state=State.PENDING).update(call_state=State.SKIPPED, scheduled_at=None)
        lead_event_add(lead=lead, kind=LeadEvent.Kind.STATUS, message=message, actor=user)
    hooks.lead_changed(lead)
    hooks.lead_taken(lead)
    return True


def lead_call_soon(*, lead: Lead, user: AbstractBaseUser) -> tuple[bool, str]:
    """The lead page's "Call now": dial at once when every rule allows it (calling hours, the lead's
    local window, holidays), else at the first moment they do; never a number on the do-not-call list.
    Returns (whether a call was asked for, what to tell the person)."""
    from dnc.services import dnc_entries
    from telephony.call_window import wait_reason
    from telephony.policy import call_settings_for

    if lead.phone and dnc_entries(phone=lead.phone, site=lead.site, partner=lead.partner).exists():
        return False, _("The number is on the do-not-call list: it is not called.")
    if not lead_call_again(lead=lead, user=user):
        return False, _("Nothing to do: the lead is closed or a call is under way.")
    wait = wait_reason(call_settings_for(lead.site), timezone.now(), phone=lead.phone)
    if wait is None:
        return True, _("Calling now.")
    return True, _("Not now (%(reason)s): the call goes at the first allowed moment.") % {"reason": wait}
