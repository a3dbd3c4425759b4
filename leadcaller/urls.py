from django.contrib import admin
from django.urls import include, path
from django.templatetags.static import static
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from demo.form import home
from demo.views import demo_page
from dnc.api import DncAddView, DncCheckView, DncRemoveView
from leadcaller.health import healthz
from leadcaller.metrics_export import metrics_view
from leads.api import LeadIntakeView
from leads.admin_views import integrations_try_view, integrations_view
from leads.bitrix_install import bitrix_install
from leads.widget_api import LeadStatusView, WidgetConfigView
from telephony.api import VoximplantCallbackView, VoximplantSellersView
from telephony.probe_call_api import ProbeCallCallbackView

admin.site.site_header = _("Leadcaller administration")
admin.site.site_title = _("Leadcaller admin")
admin.site.index_title = _("Leads, calls and settings")

urlpatterns = [
    path("", home, name="home"),
    path("api/v1/leads/", LeadIntakeView.as_view(), name="lead-intake"),
    path("api/v1/leads/status/", LeadStatusView.as_view(), name="lead-status"),
    path("api/v1/widget/config/", WidgetConfigView.as_view(), name="widget-config"),
    path("api/v1/telephony/voximplant/callback/", VoximplantCallbackView.as_view(), name="voximplant-callback"),
    path("api/v1/telephony/voximplant/sellers/", VoximplantSellersView.as_view(), name="voximplant-sellers"),
    path("api/v1/telephony/voximplant/probe-call/", ProbeCallCallbackView.as_view(), name="voximplant-probe-call"),
    path("api/v1/crm/bitrix/install/", bitrix_install, name="bitrix-install"),
    path("api/v1/dnc/check/", DncCheckView.as_view(), name="dnc-check"),
    path("api/v1/dnc/add/", DncAddView.as_view(), name="dnc-add"),
    path("api/v1/dnc/remove/", DncRemoveView.as_view(), name="dnc-remove"),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Split: the page's settings script is a request of its own, so the page needs no inline script (CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("demo/", demo_page, name="demo"),
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("admin/integrations/", admin.site.admin_view(integrations_view), name="admin-integrations"),
    path("admin/integrations/try/<str:action>/", admin.site.admin_view(integrations_try_view),
         name="admin-integrations-try"),
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    # Django's set_language (POST): the dashboard's language switch.
    path("i18n/", include("django.conf.urls.i18n")),
]

handler500 = "leadcaller.errors.server_error"
