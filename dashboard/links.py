"""Links from the dashboard's figures to the matching leads in the admin's lead list.

The query uses the lead list's own parameters (the lookups its filters and Django's changelist
accept), so the list the link opens counts exactly the leads the figure counts: arrival in the
period's [start, end), the page's site and partner filters, and the figure's own condition.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse

from dashboard.stats import Period

NO_PARTNER = "none"


def leads_list_allowed(user) -> bool:
    """Whether `user` can open the admin's lead list: staff with the permission to view leads."""
    return bool(user.is_active and user.is_staff and user.has_perm("leads.view_lead"))


class LeadLinks:
    """URLs of the admin's lead list for one period; every URL is None for a user who cannot open it."""

    def __init__(self, period: Period, *, allowed: bool):
        self.period, self.allowed = period, allowed

    def url(self, *, status: str | None = None, outcome: str | None = None, currency: str | None = None,
            site_id: int | None = None, partner_id: int | str | None = None) -> str | None:
        """`partner_id=NO_PARTNER`: leads without a partner; `outcome=""`: leads with no call result yet."""
        if not self.allowed:
            return None
        params = {"created_at__gte": self.period.start.isoformat(), "created_at__lt": self.period.end.isoformat()}
        site_id = site_id or self.period.site_id
        partner_id = partner_id or self.period.partner_id
        if site_id:
            params["site__id__exact"] = site_id
        if partner_id == NO_PARTNER:
            params["partner__isnull"] = "True"
        elif partner_id:
            params["partner__id__exact"] = partner_id
        if status:
            params["status__exact"] = status
        if outcome is not None:
            params["last_call_outcome__exact"] = outcome
        if currency:
            params.update({"currency__exact": currency, "order_amount__isnull": "False"})
        return f"{reverse('admin:leads_lead_changelist')}?{urlencode(params)}"
