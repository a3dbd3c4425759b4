"""The manager dashboard's page: the filter, then its sections (dashboard/sections.py), top to bottom.

Every view of the dashboard (this page, the chart JSON in dashboard/charts.py, the CSV in
dashboard/exports.py) reads the same filter (dashboard/filters.py) and asks dashboard/stats.py, which
aggregates in the database. Managers, administrators and superusers may look (dashboard/access.py).
"""

from __future__ import annotations

from django.contrib.auth.views import LogoutView
from django.urls import reverse_lazy
from django.views.generic import TemplateView

from dashboard import stats
from dashboard.access import ManagersOnly
from dashboard.charts import chart_urls
from dashboard.filters import DashboardFilter
from dashboard.links import LeadLinks, leads_list_allowed
from dashboard.numbers import duration_text
from dashboard.sections import sections_context


class DashboardPage(ManagersOnly, TemplateView):
    template_name = "dashboard/index.html"

    def get_context_data(self, **kwargs):
        form = DashboardFilter(self.request.GET or None)
        self.filter_refused = form.is_bound and not form.is_valid()
        period = form.period()
        query = self.request.GET.urlencode() if form.is_valid() else ""
        summary = stats.summary(period)
        speed = stats.speed_to_lead(period)
        shared = {
            **super().get_context_data(**kwargs), "form": form, "period": period, "query": query,
            "summary": summary, "totals": summary["totals"], "charts": chart_urls(query),
            "links": LeadLinks(period, allowed=leads_list_allowed(self.request.user)),
            "speed": {key: duration_text(speed[key]) for key in ("median", "p90")}, "dialled": speed["dialled"],
            "speed_approximate": speed.get("approximate", False)}  # from the daily rollups: within 4.9 %
        return sections_context(self.request, period, shared)

    def render_to_response(self, context, **kwargs):
        # A filter that is not valid (dates out of range, say) is a 400; the page still shows the
        # default range, with the form's error.
        return super().render_to_response(context, status=400 if self.filter_refused else 200, **kwargs)


class DashboardLogout(LogoutView):
    """Log out by POST (Django 5 refuses GET), back to the dashboard's own login page."""

    next_page = reverse_lazy("dashboard:login")
