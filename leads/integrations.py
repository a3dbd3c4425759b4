"""Whether each provider is connected, and its last error, for the admin. Never a secret."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _

from leads.models import BitrixAuth
from notifications.models import Notification, TelegramChat
from telephony.models import CallAttempt
from telephony.selectors import scenario_status


@dataclass(frozen=True)
class Integration:
    name: str
    configured: bool
    mode: str
    last_error: str


def integrations_status() -> list[Integration]:
    return [_bitrix(), _voximplant(), _telegram()]


def _bitrix() -> Integration:
    if settings.BITRIX_WEBHOOK_URL:
        host = urlsplit(settings.BITRIX_WEBHOOK_URL).hostname
        return Integration("Bitrix24", True, _("inbound webhook to %(host)s") % {"host": host}, "")
    if settings.BITRIX_PORTAL_URL:
        auth = BitrixAuth.objects.order_by("-updated_at").first()
        mode = _("OAuth application on %(host)s") % {"host": urlsplit(settings.BITRIX_PORTAL_URL).hostname}
        if auth is None:
            return Integration("Bitrix24", False, mode, _("not installed yet: no tokens"))
        return Integration("Bitrix24", True, mode, auth.last_error)
    return Integration("Bitrix24", False, _("off"), "")


def _voximplant() -> Integration:
    if settings.VOXIMPLANT_CREDENTIALS:
        mode = _("service account key")
    elif settings.VOXIMPLANT_ACCOUNT_ID and settings.VOXIMPLANT_API_KEY:
        mode = _("account id and API key")
    else:
        return Integration("VoxImplant", False, _("off"), "")
    failed = CallAttempt.objects.filter(status=CallAttempt.Status.FAILED).order_by("-created_at").first()
    configured = bool(settings.VOXIMPLANT_RULE_ID and settings.VOXIMPLANT_CALLER_ID)
    errors = [failed.detail if failed else "", scenario_status().warning]  # an outdated scenario shows here
    return Integration("VoxImplant", configured, mode + (f", rule {settings.VOXIMPLANT_RULE_ID}" if configured else ""),
                       "; ".join(error for error in errors if error))


def _telegram() -> Integration:
    if not settings.TELEGRAM_BOT_TOKEN:
        return Integration("Telegram", False, _("off"), "")
    broken = TelegramChat.objects.filter(is_broken=True).values_list("chat_id", "broken_reason")[:3]
    failed = Notification.objects.filter(status=Notification.Status.FAILED).order_by("-created_at").first()
    errors = [f"{chat}: {reason}" for chat, reason in broken] or ([failed.last_error] if failed else [])
    return Integration("Telegram", True, _("bot"), "; ".join(errors))
