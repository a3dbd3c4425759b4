from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        # The leads tell us when a card may need an edit or a person needs an alert (leads/hooks.py).
        from leads import hooks, pipeline
        from notifications import services

        pipeline.step_listener_add(services.step_result_handle)
        hooks.on_lead_changed(services.lead_changed_handle)
        hooks.on_lead_manual(services.lead_manual_handle)
