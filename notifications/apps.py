from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # The leads tell us when a card may need an edit, a person needs an alert or took the lead, or the
        # cards should go out again, or the service needs a person (leads/hooks.py).
        from leads import hooks, pipeline
        from notifications import services

        pipeline.step_listener_add(services.step_result_handle)
        hooks.on_lead_changed(services.lead_changed_handle)
        hooks.on_lead_manual(services.lead_manual_handle)
        hooks.on_lead_taken(services.lead_taken_handle)
        hooks.on_resend_asked(services.resend_asked_handle)
        hooks.on_service_alert(services.service_alert_handle)
