"""The lead page's top: what happened (the timeline, in plain words), and the buttons a manager uses most
(Call now, Take, Handled). Each button posts to one small view that calls the same service as the list's
actions. The template keeps each part in its own block and include, so other panels (the call plan) slot in."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from leads import handling
from leads.models import Lead

OUTCOMES = [("called back", gettext_lazy("called back")), ("order placed", gettext_lazy("order placed")),
            ("not interested", gettext_lazy("not interested")), ("unreachable", gettext_lazy("unreachable")),
            ("other", gettext_lazy("other"))]


class HandledForm(forms.Form):
    outcome = forms.ChoiceField(label=gettext_lazy("outcome"), choices=OUTCOMES)
    comment = forms.CharField(label=gettext_lazy("comment"), required=False, max_length=300)


def bitrix_lead_url(lead_id: int | None) -> str:
    """The lead's card on the shop's portal, or "" when the portal's address is not known."""
    base = settings.BITRIX_PORTAL_URL or settings.BITRIX_WEBHOOK_URL
    if not lead_id or not base:
        return ""
    from urllib.parse import urlsplit

    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}/crm/lead/details/{int(lead_id)}/"


def lead_page_context(request: HttpRequest, lead: Lead, *, may_handle: bool) -> dict:
    events = [{"at": date_format(timezone.localtime(event.at), "Y-m-d H:i:s"), "kind": event.get_kind_display(),
               "text": event.text or event.get_kind_display(), "actor": event.actor, "step": event.step}
              for event in lead.events.select_related("actor").order_by("-at", "-id")]
    return {
        "lead_timeline": events,
        "lead_may_handle": may_handle,
        "lead_is_open": lead.is_open,
        "lead_handled_form": HandledForm(),
        "lead_urls": {action: reverse("admin:leads_lead_do", args=[lead.pk, action])
                      for action in ("call", "take", "handled")},
    }


@require_POST
def lead_do_view(request: HttpRequest, object_id: str, action: str, *, may_handle: bool) -> HttpResponse:
    """One button of the lead page: POST only (CSRF-protected), permission "handle leads"."""
    if not may_handle:
        raise PermissionDenied
    lead = get_object_or_404(Lead.objects.select_related("site", "partner"), pk=object_id)
    page = reverse("admin:leads_lead_change", args=[lead.pk])
    if action == "call":
        ok, message = handling.lead_call_soon(lead=lead, user=request.user)
    elif action == "take":
        ok = handling.lead_take(lead=lead, user=request.user)
        message = _("The lead is yours.") if ok else _("The lead was already yours.")
    elif action == "handled":
        form = HandledForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose an outcome."))
            return redirect(page)
        ok = handling.lead_mark_handled(lead=lead, user=request.user, **form.cleaned_data)
        message = _("Marked as handled.") if ok else _("Nothing to do: the lead is closed already.")
    else:
        return HttpResponse(status=404)
    messages.add_message(request, messages.SUCCESS if ok else messages.WARNING, message)
    return redirect(page)
