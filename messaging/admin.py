"""The follow-up message in the admin: the per-site settings on their own page, the messages on the lead's page."""

from __future__ import annotations

from django.contrib import admin
from django.db import models
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from messaging.models import Message, SiteMessaging


@admin.register(SiteMessaging)
class SiteMessagingAdmin(admin.ModelAdmin):
    """A site's follow-up message, on its own page (the site's form stays as it is)."""

    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # as the site's own form
    list_display = ("site", "enabled", "after_last", "sender", "daily_budget")
    list_filter = ("enabled",)
    list_select_related = ("site",)
    fields = ("site", "enabled", "after_last", "template", "shop_name", "seller_phone", "link", "sender",
              "daily_budget")


class LeadMessagesAdminMixin:
    """The lead's messages as a read-only field of its page (a field, not an inline: the page's form and
    what posts it stay as they are)."""

    @admin.display(description=gettext_lazy("text messages"))
    def text_messages(self, obj) -> str:
        rows = [(m.get_kind_display(), m.get_status_display(), m.provider_status, m.detail,
                 timezone.localtime(m.sent_at).strftime("%Y-%m-%d %H:%M") if m.sent_at else "—")
                for m in Message.objects.filter(lead_id=obj.pk).order_by("created_at", "id")] if obj.pk else []
        if not rows:
            return "—"
        body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows)
        return format_html('<table class="text-messages"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>'
                           "<th>{}</th></tr></thead><tbody>{}</tbody></table>", _("kind"), _("status"),
                           _("provider's status"), _("detail"), _("sent"), body)


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("created_at", "lead", "kind", "status", "provider_status", "detail", "sent_at", "delivered_at")
    list_filter = ("status", "kind", "lead__site")
    list_select_related = ("lead__site",)
    readonly_fields = [field.name for field in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
