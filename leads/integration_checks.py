"""The admin's "try the connection" buttons: each proves one provider's credentials with a harmless real
request, or places a test call, and leaves an IntegrationCheck row (who, when, what, the result).

Nothing here touches a lead. Error texts come from the clients, which never put a secret in them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from leads import bitrix
from leads.models import IntegrationCheck, Site
from notifications import telegram
from telephony import probe_calls, setup, voximplant

Provider, Action = IntegrationCheck.Provider, IntegrationCheck.Action
STATES = {setup.OK: gettext_lazy("ok"), setup.CREATED: gettext_lazy("created"), setup.UPDATED: gettext_lazy("updated"),
          setup.MISSING: gettext_lazy("missing"), setup.DIFFERS: gettext_lazy("differs"),
          setup.REFUSED: gettext_lazy("refused")}


def integration_check_bitrix(*, user: AbstractBaseUser) -> IntegrationCheck:
    """Read the portal's lead fields (crm.lead.fields): proves the webhook or the OAuth tokens and the crm scope."""
    client = bitrix.client_from_settings()
    if client is None:
        return _audit(user, Provider.BITRIX, Action.CHECK, "", False, _("Bitrix24 is not configured."))
    try:
        fields = client.call("crm.lead.fields")
    except bitrix.BitrixError as exc:
        return _audit(user, Provider.BITRIX, Action.CHECK, "", False, str(exc))
    host = urlsplit(client.base_url or settings.BITRIX_PORTAL_URL).hostname
    custom = sorted(name for name in fields if name.startswith("UF_"))
    return _audit(user, Provider.BITRIX, Action.CHECK, "", True, _(
        "%(host)s answered: %(n)d lead fields, custom ones: %(custom)s") % {
        "host": host, "n": len(fields), "custom": ", ".join(custom) or "—"})


def integration_check_voximplant(*, user: AbstractBaseUser) -> IntegrationCheck:
    """The account takes our credentials; VOXIMPLANT_RULE_ID exists and runs our scenario, uploaded as it
    is in this checkout; the caller IDs are the account's (the `voximplant_setup --check` report)."""
    try:
        client = voximplant.client_from_settings()
    except ImproperlyConfigured as exc:
        return _audit(user, Provider.VOXIMPLANT, Action.CHECK, "", False, str(exc))
    if client is None:
        return _audit(user, Provider.VOXIMPLANT, Action.CHECK, "", False, _("VoxImplant is not configured."))
    try:
        target = setup.configured_target(client)
        if target is None:
            return _audit(user, Provider.VOXIMPLANT, Action.CHECK, "", False, _(
                "The credentials work, but no application of account %(account)s has rule %(rule)s "
                "(VOXIMPLANT_RULE_ID); run manage.py voximplant_setup.") % {
                "account": client.credentials.account_id, "rule": settings.VOXIMPLANT_RULE_ID or "—"})
        report = setup.voximplant_setup(client=client, target=target, apply=False)
    except voximplant.VoximplantError as exc:
        return _audit(user, Provider.VOXIMPLANT, Action.CHECK, "", False, str(exc))
    lines = [f"{f.subject}: {STATES[f.state]}" + (f" ({f.detail})" if f.detail else "") for f in report.findings]
    return _audit(user, Provider.VOXIMPLANT, Action.CHECK, "", not report.problems, "; ".join(lines))


def integration_check_telegram(*, user: AbstractBaseUser, chat_id: str) -> IntegrationCheck:
    """getMe proves the token; then a test message proves the bot may write to the chosen chat."""
    client = telegram.client_from_settings()
    if client is None:
        return _audit(user, Provider.TELEGRAM, Action.TEST_MESSAGE, chat_id, False, _("Telegram is not configured."))
    try:
        bot = client.get_me()
        client.send_message(chat_id, _("Leadcaller test message: this bot can write to this chat."), html=False)
    except telegram.TelegramError as exc:
        return _audit(user, Provider.TELEGRAM, Action.TEST_MESSAGE, chat_id, False, str(exc))
    return _audit(user, Provider.TELEGRAM, Action.TEST_MESSAGE, chat_id, True, _(
        "Bot @%(bot)s sent a test message to %(chat)s.") % {"bot": bot.get("username", "?"), "chat": chat_id})


def integration_test_call(*, user: AbstractBaseUser, phone: str, site: Site | None) -> IntegrationCheck:
    """Start our real scenario to `phone`; its result arrives later on the ProbeCall row."""
    try:
        call = probe_calls.probe_call_start(user=user, phone=phone, site=site)
    except probe_calls.ProbeCallRefused as exc:
        return _audit(user, Provider.VOXIMPLANT, Action.TEST_CALL, phone, False, str(exc))
    if call.status == call.Status.FAILED:
        return _audit(user, Provider.VOXIMPLANT, Action.TEST_CALL, call.phone, False, call.detail)
    return _audit(user, Provider.VOXIMPLANT, Action.TEST_CALL, call.phone, True, _(
        "Calling %(phone)s from %(caller)s (session %(session)s); the result shows below when the call ends.") % {
        "phone": call.phone, "caller": call.caller_id, "session": call.session_id})


def _audit(user: AbstractBaseUser, provider: str, action: str, target: str, ok: bool, result: str) -> IntegrationCheck:
    return IntegrationCheck.objects.create(user=user, username=user.get_username(), provider=provider, action=action,
                                           target=target[:100], ok=ok, result=result[:2000])
