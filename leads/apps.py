from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LeadsConfig(AppConfig):
    default = True  # this module holds other AppConfig classes too: "leads" means this one
    name = "leads"
    verbose_name = _("Leads")

    def ready(self) -> None:
        from leads import cors  # noqa: F401  (connects the CORS origin check)
        from leads import pipeline, services

        pipeline.step_listener_add(services.step_result_handle)


class LoginLockoutConfig(AxesAppConfig):
    """django-axes (log-in lock-outs), named for the people who unlock a colleague in the admin."""

    verbose_name = _("Log-in lock-outs")
