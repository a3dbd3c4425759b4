from django.contrib.auth.views import LoginView
from django.urls import path, reverse_lazy

from dashboard import follow_up_views, views

app_name = "dashboard"
urlpatterns = [
    path("", views.DashboardPage.as_view(), name="index"),
    # Managers need not be staff: they log in here rather than at the admin's staff-only login.
    path("login/", views.strict_csp(LoginView.as_view(template_name="dashboard/login.html",
                                                      next_page=reverse_lazy("dashboard:index"))), name="login"),
    path("charts/series/", views.SeriesChart.as_view(), name="series"),
    path("charts/outcomes/", views.OutcomeChart.as_view(), name="outcomes"),
    path("charts/partner-sums/", views.PartnerSumChart.as_view(), name="partner-sums"),
    path("partners.csv", views.PartnerCsv.as_view(), name="partners-csv"),
    path("sites.csv", views.SiteCsv.as_view(), name="sites-csv"),
    path("charts/reached-by-call/", follow_up_views.ReachedByCallChart.as_view(), name="reached-by-call"),
    path("calls-and-messages.csv", follow_up_views.FollowUpCsv.as_view(), name="follow-up-csv"),
]
