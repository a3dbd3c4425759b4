"""Whether each provider is connected, and its last error, for the admin. Never a secret."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leads.models import BitrixAuth, Partner
from notifications.models import Notification, TelegramChat
from telephony.models import CallAttempt
from telephony.selectors import scenario_status


@dataclass(frozen=True)
class Integration:
    name: str
    configured: bool
    mode: str
    last_error: str
    simulated: bool = False  # `make run`'s local simulator, not the real service
    note: str = ""


def integrations_status() -> list[Integration]:
    bitrix = _bitrix()
    bitrix = replace(bitrix, simulated=_simulated(settings.BITRIX_WEBHOOK_URL or settings.BITRIX_PORTAL_URL),
                     note=_partners_note())
    return [bitrix,
            replace(_voximplant(), simulated=_simulated(settings.VOXIMPLANT_API_URL)),
            replace(_telegram(), simulated=_simulated(settings.TELEGRAM_API_URL))]


def _simulated(url: str) -> bool:
    """`make run` points a provider without credentials at a simulator on this machine (demo/launcher.py)."""
    return bool(settings.DEMO_SIMULATORS_URL and url) and urlsplit(url).hostname in ("127.0.0.1", "localhost", "::1")


def _partners_note() -> str:
    synced = Partner.objects.aggregate(last=Max("synced_at"), count=Count("pk", filter=Q(is_active=True)))
    if synced["last"] is None:
        return _("Partners: never synced from Bitrix24.")
    return ngettext("%(count)d active partner, last synced from Bitrix24 %(at)s.",
                    "%(count)d active partners, last synced from Bitrix24 %(at)s.", synced["count"]) % {
        "count": synced["count"], "at": date_format(timezone.localtime(synced["last"]), "Y-m-d H:i:s")}


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
