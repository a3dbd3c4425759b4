"""Reads: how a lead's messages went, in a line each (the Telegram card, the admin)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from leads.models import Lead
from messaging.models import Message


def message_lines(lead: Lead) -> list[str]:
    """One line per message that was due to go (planned ones included): "SMS after the first call: delivered"."""
    lines = []
    for message in Message.objects.filter(lead=lead).order_by("created_at", "id"):
        line = _("SMS %(kind)s: %(status)s") % {"kind": message.get_kind_display(), "status": message.get_status_display()}
        if message.status in (Message.Status.FAILED, Message.Status.UNDELIVERED, Message.Status.SKIPPED) and message.detail:
            line += f" ({message.detail[:120]})"
        lines.append(line)
    return lines
