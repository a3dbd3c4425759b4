from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DncConfig(AppConfig):
    name = "dnc"
    verbose_name = _("Do-not-call list")
