"""A person's "stop": the opt-out key pressed during a call, and the do-not-call list before a dial.

Both end the lead "opted out" (leads.services.lead_opted_out): it stays stored and in the CRM, is
never dialled again, and the card and the admin say why.
"""

from __future__ import annotations

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from dnc.models import Entry
from dnc.services import dnc_add
from leads import services as lead_services
from leads.models import Lead, OptOutScope
from leads.pipeline import Skipped
from telephony.models import CallAttempt


def opt_out_record(*, attempt: CallAttempt) -> None:
    """The opt-out key ended this call: list the number (for every site, or the site only, as the site
    says) and end the lead. Call inside the transaction that records the result, after `number_lock`."""
    lead = attempt.lead
    site = lead.site
    reason = _("Pressed %(key)s during call %(n)d: do not call again.") % {"key": site.opt_out_digit,
                                                                           "n": attempt.number}
    dnc_add(phone=attempt.phone, source=Entry.Source.KEY_PRESS, reason=reason, lead=lead,
            site=site if site.opt_out_scope == OptOutScope.SITE else None)
    lead_services.lead_opted_out(lead=lead, reason=reason)


def listed_outcome(lead: Lead, entry: Entry) -> Skipped:
    """The number is on the do-not-call list: the lead is not called and ends opted out."""
    reason = listed_reason(entry)
    lead_services.lead_opted_out(lead=lead, reason=reason)
    return Skipped(reason)


def listed_reason(entry: Entry) -> str:
    listed_on = formats.date_format(timezone.localtime(entry.added_at), "SHORT_DATE_FORMAT")
    return _("Not called: the number is on the do-not-call list (%(target)s) since %(date)s, %(source)s.") % {
        "target": entry.target_label, "date": listed_on, "source": entry.get_source_display()}
