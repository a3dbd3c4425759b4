"""The call plan on the lead's admin page (done / next / remaining calls) with "skip the next call"
and "stop the calls". Mixed into the lead admin; the buttons post the page's form (with its CSRF
token) to their own URLs, so the plan needs no form of its own inside the change form."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from leads.models import Lead
from telephony.cadence_handling import lead_call_skip_next, lead_calls_stop
from telephony.call_plan import lead_call_plan

STATE_LABELS = {"done": gettext_lazy("done"), "skipped": gettext_lazy("skipped"), "next": gettext_lazy("next"),
                "planned": gettext_lazy("planned")}


class CallPlanAdminMixin:
    """Adds the `call_plan` read-only field and its two actions to a Lead admin."""

    def get_urls(self):
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path("<int:lead_id>/calls/skip/", wrap(require_POST(self.call_skip_view)), name="lead-call-skip"),
            path("<int:lead_id>/calls/stop/", wrap(require_POST(self.calls_stop_view)), name="lead-calls-stop"),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def call_skip_view(self, request: HttpRequest, lead_id: int) -> HttpResponse:
        return self._plan_action(request, lead_id, lead_call_skip_next, _("The next call is skipped."))

    def calls_stop_view(self, request: HttpRequest, lead_id: int) -> HttpResponse:
        return self._plan_action(request, lead_id, lead_calls_stop,
                                 _("The calls are stopped; the lead is in manual handling."))

    def _plan_action(self, request: HttpRequest, lead_id: int, action, done: str) -> HttpResponse:
        if not request.user.has_perm("leads.handle_lead"):
            return HttpResponseForbidden()
        lead = get_object_or_404(Lead, pk=lead_id)
        if action(lead=lead, user=request.user):
            messages.success(request, done)
        else:
            messages.warning(request, _("Nothing changed: no call is waiting (one may be under way)."))
        return redirect(reverse("admin:leads_lead_change", args=[lead_id]))

    def call_plan(self, obj: Lead) -> str:
        if not obj.pk:
            return "—"
        plan = lead_call_plan(obj, timezone.now())
        if not plan:
            return "—"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (call.number, STATE_LABELS[call.state],
             timezone.localtime(call.at).strftime("%Y-%m-%d %H:%M") if call.at else "—", call.outcome)
            for call in plan))
        buttons = ""
        if any(call.state == "next" for call in plan):
            buttons = format_html(
                '<p><button type="submit" class="button" formnovalidate formmethod="post" formaction="{}">{}</button> '
                '<button type="submit" class="button" formnovalidate formmethod="post" formaction="{}">{}</button></p>',
                reverse("admin:lead-call-skip", args=[obj.pk]), _("Skip the next call"),
                reverse("admin:lead-calls-stop", args=[obj.pk]), _("Stop the calls"))
        return format_html('<table class="call-plan"><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th></tr>'
                           "</thead><tbody>{}</tbody></table>{}",
                           _("state"), _("time"), _("outcome"), rows, buttons)

    call_plan.short_description = gettext_lazy("call plan")  # type: ignore[attr-defined]
