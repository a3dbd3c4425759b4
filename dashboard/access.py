"""Who may see the dashboard, and the strict Content-Security-Policy every dashboard answer carries."""

from __future__ import annotations

from django.contrib.auth.mixins import LoginRequiredMixin, UserPassesTestMixin
from django.urls import reverse_lazy

from dashboard import stats
from dashboard.filters import DashboardFilter
from leadcaller import csp
from leads.roles import DASHBOARD_GROUPS

# The page loads its script, styles and chart data from this server only: no inline code, no CDN.
CONTENT_SECURITY_POLICY = csp.POLICY


def dashboard_allowed(user) -> bool:
    return user.is_active and (user.is_superuser or user.groups.filter(name__in=DASHBOARD_GROUPS).exists())


def strict_csp(view):
    """Send the dashboard's Content-Security-Policy with every answer of `view`."""
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
    return wrapped


class ManagersOnly(LoginRequiredMixin, UserPassesTestMixin):
    """Managers, administrators and superusers may look; other users get 403, visitors the login page."""

    login_url = reverse_lazy("dashboard:login")

    def test_func(self) -> bool:
        return dashboard_allowed(self.request.user)

    def filter_period(self) -> stats.Period | None:
        form = DashboardFilter(self.request.GET)
        return form.period() if form.is_valid() else None

    def dispatch(self, request, *args, **kwargs):
        return strict_csp(super().dispatch)(request, *args, **kwargs)
