from django.contrib.auth.views import LoginView
from django.urls import path, reverse_lazy

from dashboard import charts, exports, follow_up_views, views
from dashboard.access import strict_csp
from dashboard.sellers import SellerCsv

app_name = "dashboard"
urlpatterns = [
    path("", views.DashboardPage.as_view(), name="index"),
    # Managers need not be staff: they log in here rather than at the admin's staff-only login.
    path("login/", strict_csp(LoginView.as_view(template_name="dashboard/login.html",
                                                next_page=reverse_lazy("dashboard:index"))), name="login"),
    path("logout/", strict_csp(views.DashboardLogout.as_view()), name="logout"),
    path("charts/series/", charts.SeriesChart.as_view(), name="series"),
    path("charts/outcomes/", charts.OutcomeChart.as_view(), name="outcomes"),
    path("charts/partner-sums/", charts.PartnerSumChart.as_view(), name="partner-sums"),
    path("partners.csv", exports.PartnerCsv.as_view(), name="partners-csv"),
    path("sites.csv", exports.SiteCsv.as_view(), name="sites-csv"),
    path("sellers.csv", SellerCsv.as_view(), name="sellers-csv"),
    path("charts/reached-by-call/", follow_up_views.ReachedByCallChart.as_view(), name="reached-by-call"),
    path("calls-and-messages.csv", follow_up_views.FollowUpCsv.as_view(), name="follow-up-csv"),
]
