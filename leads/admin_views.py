"""Admin pages that are not a model's: the Integrations page and its "try the connection" buttons."""

from __future__ import annotations

import re
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from leads import integration_checks
from leads.integrations import integrations_status
from leads.models import IntegrationCheck, Site
from leads.phones import PhoneError, phone_normalize
from telephony.models import ProbeCall

# A probe call still waiting for its result keeps the page refreshing for this long.
PENDING_FOR = timedelta(minutes=5)


class TelegramTestForm(forms.Form):
    chat_id = forms.RegexField(label=_("chat id"), max_length=64, regex=re.compile(r"^(-?\d{1,20}|@\w{5,32})$"),
                               error_messages={"invalid": _("A chat id is a number (groups: negative) or @channel.")})


class ProbeCallForm(forms.Form):
    phone = forms.CharField(label=_("your phone number"), max_length=32)
    site = forms.ModelChoiceField(label=_("as site"), queryset=Site.objects.filter(is_active=True), required=False,
                                  empty_label=_("— global settings —"))

    def clean_phone(self) -> str:
        try:  # only "is it a number"; whether it may be called is the service's decision, and audited
            phone_normalize(self.cleaned_data["phone"], region=settings.PHONE_REGION)
        except PhoneError as exc:
            raise forms.ValidationError(str(exc)) from None
        return self.cleaned_data["phone"]


@permission_required("leads.view_bitrixauth", raise_exception=True)
def integrations_view(request: HttpRequest, **forms_given: forms.Form) -> HttpResponse:
    probes = list(ProbeCall.objects.select_related("site", "requested_by")[:10])
    pending = any(p.status in (ProbeCall.Status.STARTING, ProbeCall.Status.STARTED)
                  and p.created_at > timezone.now() - PENDING_FOR for p in probes)
    context = {
        **admin.site.each_context(request), "integrations": integrations_status(),
        "telegram_form": forms_given.get("telegram") or TelegramTestForm(initial={"chat_id": settings.TELEGRAM_CHAT_ID}),
        "call_form": forms_given.get("test-call") or ProbeCallForm(),
        "probes": probes, "checks": IntegrationCheck.objects.select_related("user")[:20], "refresh": pending,
    }
    return render(request, "admin/integrations.html", context, status=400 if forms_given else 200)


@require_POST
@permission_required("leads.test_integrations", raise_exception=True)
def integrations_try_view(request: HttpRequest, action: str) -> HttpResponse:
    """Run one check (POST only, CSRF-protected), show its result on the Integrations page."""
    user = request.user
    if action == "bitrix24":
        check = integration_checks.integration_check_bitrix(user=user)
    elif action == "voximplant":
        check = integration_checks.integration_check_voximplant(user=user)
    elif action in ("telegram", "test-call"):
        form = (TelegramTestForm if action == "telegram" else ProbeCallForm)(request.POST)
        if not form.is_valid():
            return integrations_view(request, **{action: form})
        check = (integration_checks.integration_check_telegram(user=user, **form.cleaned_data) if action == "telegram"
                 else integration_checks.integration_test_call(user=user, **form.cleaned_data))
    else:
        return HttpResponse(status=404)
    messages.add_message(request, messages.SUCCESS if check.ok else messages.ERROR,
                         f"{check.get_provider_display()}, {check.get_action_display()}: {check.result}")
    return redirect("admin-integrations")
