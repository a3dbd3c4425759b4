"""/demo/: what the simulated providers received, beside our own view of the latest leads.

Served only while `make run` runs simulators (it sets DEMO_SIMULATORS_URL), and then only to a
browser on this machine or to staff: the page shows leads' names and phone numbers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from demo import chat
from leadcaller.http import direct_address
from leads.models import Lead

TIMEOUT = (1.0, 3.0)
LEADS_SHOWN = 10


def demo_page(request: HttpRequest) -> HttpResponse:
    if not settings.DEMO_SIMULATORS_URL or not may_see(request):
        raise Http404
    state, error = _state(settings.DEMO_SIMULATORS_URL)
    context = {
        "error": error,
        "leads": _our_leads(),
        "bitrix24": _bitrix24(state.get("bitrix24")),
        "voximplant": _voximplant(state.get("voximplant")),
        "telegram": _telegram(state.get("telegram")),
        "followed": request.GET.get("lead", "")[:36],  # the lead the demo form's visitor follows
    }
    return render(request, "demo/simulators.html", context)


def may_see(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    address = direct_address(request)  # not through a proxy: behind one, everyone is 127.0.0.1
    return address is not None and address.is_loopback


def _state(url: str) -> tuple[dict[str, Any], bool]:
    http = requests.Session()
    http.trust_env = False  # a local address: never through a proxy from the environment
    try:
        response = http.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        state = response.json()
    except (requests.RequestException, ValueError):
        return {}, True
    return (state, False) if isinstance(state, dict) else ({}, True)


def _our_leads() -> list[Lead]:
    leads = list(Lead.objects.select_related("site", "partner").prefetch_related("call_attempts")
                 .order_by("-created_at")[:LEADS_SHOWN])
    now = timezone.now()
    for lead in leads:  # a retry later, or a lead outside calling hours: say when the next call is
        due = lead.scheduled_at
        lead.next_call = due if lead.is_open and lead.call_state == Lead.StepState.PENDING and due and due > now else None
    return leads


def _bitrix24(data: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if data is None:
        return None
    return [{
        "id": lead.get("ID"), "title": lead.get("TITLE"), "name": lead.get("NAME"),
        "phones": ", ".join(str(p.get("VALUE", "")) for p in lead.get("PHONE") or []),
        "emails": ", ".join(str(p.get("VALUE", "")) for p in lead.get("EMAIL") or []),
        "amount": lead.get("OPPORTUNITY"), "currency": lead.get("CURRENCY_ID"), "source": lead.get("SOURCE_ID"),
        "status": lead.get("STATUS_ID"), "originator": lead.get("ORIGINATOR_ID"), "origin": lead.get("ORIGIN_ID"),
        "utm_source": lead.get("UTM_SOURCE"), "company": lead.get("COMPANY_ID"), "created": lead.get("DATE_CREATE"),
        "comments": lead.get("comments") or [],
    } for lead in data.get("leads", [])]


def _voximplant(data: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if data is None:
        return None
    calls = []
    for call in data.get("calls", []):
        # The result, not the scenario's request for a seller (offer mode), which is a POST too.
        posts = [r for r in call.get("requests", []) if r.get("method") == "POST" and "result" in (r.get("payload") or {})]
        fetches = [r for r in call.get("requests", []) if r.get("method") == "GET"]
        result = posts[-1] if posts else None
        custom = call.get("custom_data") or {}
        calls.append({
            "session_id": call.get("session_id"), "started_at": _parse_time(call.get("started_at")),
            "phone": custom.get("phone", ""), "attempt_id": custom.get("attempt_id", ""),
            "settings_status": fetches[-1].get("status") or fetches[-1].get("error") if fetches else None,
            "result": (result or {}).get("payload", {}).get("result"),
            "duration": (result or {}).get("payload", {}).get("duration"),
            "detail": (result or {}).get("payload", {}).get("detail"),
            "answered": (result or {}).get("status") or (result or {}).get("error"),
        })
    return calls


def _telegram(data: dict[str, Any] | None) -> list[dict[str, Any]] | None:
    if data is None:
        return None
    return [{
        "id": c.get("id"), "title": c.get("title"),
        "messages": [{
            "id": m.get("message_id"), "date": _from_unix(m.get("date")), "edited": _from_unix(m.get("edit_date")),
            "html": chat.message_html(str(m.get("plain", "")), m.get("entities") or []),
            "buttons": chat.buttons(m.get("reply_markup")),
        } for m in c.get("messages", [])],
    } for c in data.get("chats", [])]


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _from_unix(value: Any) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, (int, float)) and value else None
