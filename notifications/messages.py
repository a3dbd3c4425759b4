"""What the seller reads in Telegram: the lead card, the manual-handling alert, the digest.

Telegram HTML: everything that comes from a lead is escaped; each line closes its own tags, so a
text cut at a line boundary is always valid markup.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from leads.models import Lead
from leads.phones import phone_mask
from leads.texts import message_render
from messaging.selectors import message_lines
from notifications.links import public_url
from notifications.telegram import Button
from telephony.models import CallAttempt

LIMIT = 4096  # characters after entity parsing; we keep well under it by counting the markup too
_TAG = re.compile(r"<[^>]+>")


def esc(value: object) -> str:
    return html.escape(str(value), quote=False)


def card(lead: Lead) -> tuple[str, list[Button]]:
    site, tz = lead.site, _tz(lead)
    title = _("New lead")
    lines = [f"🆕 <b>{esc(title)}</b> · {esc(site.name or site.domain)}"]
    if lead.name:
        lines.append(f"👤 {esc(lead.name[:200])}")
    # Plain text: Telegram makes a number tappable itself, and drops a tel: link it cannot check.
    lines.append(f"📞 {esc(shown_phone(lead))}" if lead.phone else f"📞 — {esc(_('personal data erased'))}")
    if lead.order_amount is not None:
        amount = f"{lead.order_amount:,.2f}".replace(",", "\u00a0")
        lines.append(f"💰 {esc(amount)} {esc(lead.currency)}")
    source = [part for part in (
        _("partner: %(name)s") % {"name": lead.partner.name} if lead.partner else "",
        f"utm: {lead.utm_source}" if lead.utm_source else "") if part]
    if source:
        lines.append(f"🏷 {esc(' · '.join(source))}")
    if lead.comment:
        lines.append(f"💬 <i>{esc(lead.comment[:500])}</i>")
    lines.append(f"🕒 {esc(lead.created_at.astimezone(tz).strftime('%d.%m.%Y %H:%M'))}")
    attempts = _attempts(lead)
    lines.append(f"<b>{esc(_call_state(lead, tz, attempts))}</b>")
    lines += [f"✉️ {esc(text)}" for text in message_lines(lead)]
    return fit("\n".join(lines + _admin_as_text(lead))), _buttons(lead, attempts)


def alert(lead: Lead, reason: str) -> tuple[str, list[Button]]:
    site = lead.site
    title = _("A lead needs a person")
    lines = [
        f"⚠️ <b>{esc(title)}</b> · {esc(site.name or site.domain)}",
        f"{esc(message_render(reason)[:600])}",
        f"📞 {esc(shown_phone(lead))}" + (f" · {esc(lead.name[:200])}" if lead.name else ""),
    ]
    taken = _alert_taken(lead)
    if taken:
        lines.insert(1, f"✅ <b>{esc(taken)}</b>")
    return fit("\n".join(lines + _admin_as_text(lead))), _buttons(lead, _attempts(lead))


def _attempts(lead: Lead) -> list[CallAttempt]:
    """The lead's calls, newest first: one query for the call line and the recording's button."""
    return list(lead.call_attempts.select_related("seller").order_by("-number"))


def _alert_taken(lead: Lead) -> str:
    """Who has the lead now, once a person took or closed it (edited into the alert)."""
    user = lead.assigned_to.get_username() if lead.assigned_to_id else ""
    if lead.status != Lead.Status.MANUAL and not lead.is_open:
        return (_("%(status)s (%(user)s)") % {"status": lead.get_status_display(), "user": user} if user
                else str(lead.get_status_display()))
    return _("taken by %(user)s") % {"user": user} if user else ""


def service_alert(text: str) -> str:
    """An alert about the service itself, not one lead (a spending ceiling reached)."""
    title = _("Leadcaller needs a person")
    return fit(f"⚠️ <b>{esc(title)}</b>\n{esc(text[:600])}")


def digest(leads: list[Lead]) -> str:
    title = ngettext("%(n)d new lead", "%(n)d new leads", len(leads)) % {"n": len(leads)}
    lines = [f"🆕 <b>{esc(title)}</b>"]
    for lead in leads:
        name = f" · {esc(lead.name[:60])}" if lead.name else ""
        lines.append(f"• {esc(lead.site.name or lead.site.domain)}: {esc(shown_phone(lead))}{name}")
    return fit("\n".join(lines))


def shown_phone(lead: Lead) -> str:
    """The number as a chat may see it: masked unless the site allows whole numbers (the admin shows it)."""
    return lead.phone if lead.site.telegram_full_phone else phone_mask(lead.phone)


def plain(text: str) -> str:
    """The same text without markup, for a resend when Telegram cannot parse it."""
    return html.unescape(_TAG.sub("", text))


def fit(text: str, limit: int = LIMIT - 96) -> str:
    """Cut at a line boundary (never inside a tag or an entity) and say that something was cut."""
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for line in text.split("\n"):
        if sum(len(k) + 1 for k in kept) + len(line) > limit:
            break
        kept.append(line)
    return "\n".join(kept + ["…"])


def _call_state(lead: Lead, tz: ZoneInfo, attempts: list[CallAttempt]) -> str:
    attempt = attempts[0] if attempts else None
    if lead.status == Lead.Status.REACHED and attempt and attempt.seller_id:
        return "✅ " + _("Talked to %(seller)s for %(s)d s") % {"seller": attempt.seller, "s": attempt.talk_time or 0}
    if lead.status == Lead.Status.REACHED:
        return "✅ " + _("Reached by phone")
    if lead.status == Lead.Status.MANUAL:
        return "⚠️ " + _("Manual handling: %(reason)s") % {"reason": lead.manual_reason}
    if lead.status == Lead.Status.OPTED_OUT:
        return "🚫 " + _("Opted out, never called again: %(reason)s") % {"reason": lead.opt_out_reason}
    if lead.status in (Lead.Status.HANDLED, Lead.Status.SPAM):
        return "☑️ " + lead.get_status_display()
    if lead.status == Lead.Status.SCHEDULED and lead.scheduled_at:
        last = _(" (last call: %(outcome)s)") % {"outcome": attempt.get_outcome_display()} \
            if attempt and attempt.outcome else ""
        return "⏰ " + _("Next call at %(time)s") % {"time": lead.scheduled_at.astimezone(tz).strftime("%H:%M")} + last
    if attempt and attempt.status in (CallAttempt.Status.STARTING, CallAttempt.Status.STARTED):
        return "📞 " + _("Calling… (call %(n)d)") % {"n": attempt.number}
    return "⏳ " + _("Waiting for the call")


def _buttons(lead: Lead, attempts: list[CallAttempt]) -> list[Button]:
    """Links a phone can open; Telegram refuses the whole message for one button it cannot check."""
    buttons = []
    portal = settings.BITRIX_WEBHOOK_URL or settings.BITRIX_PORTAL_URL
    if lead.bitrix_lead_id and portal:
        parts = urlsplit(portal)
        buttons.append(Button(_("Open in Bitrix24"),
                              f"{parts.scheme}://{parts.netloc}/crm/lead/details/{lead.bitrix_lead_id}/"))
    buttons.append(Button(_("Open in admin"), _admin_url(lead)))
    recording = next((attempt.record_url for attempt in attempts if attempt.record_url), "")
    if recording:
        buttons.append(Button(_("Listen to the call"), recording))
    return [button for button in buttons if public_url(button.url)]


def _admin_as_text(lead: Lead) -> list[str]:
    """The admin's address as text when it cannot be a button (PUBLIC_BASE_URL on localhost or a
    private network): whoever reads the card where that address works (`make run`'s chat page on the
    same machine, an office network) can still copy it; Telegram shows code as text, never a link."""
    url = _admin_url(lead)
    return [] if public_url(url) else [f"🔗 {esc(_('Open in admin'))}: <code>{esc(url)}</code>"]


def _admin_url(lead: Lead) -> str:
    return f"{settings.PUBLIC_BASE_URL}/admin/leads/lead/{lead.pk}/change/"


def _tz(lead: Lead) -> ZoneInfo:
    return ZoneInfo(lead.site.time_zone or settings.CALLING_TIME_ZONE)
