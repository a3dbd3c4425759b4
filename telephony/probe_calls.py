"""The admin's "test call to my phone": our real scenario, started through the real rule, to a number a
person typed. The scenario fetches its settings and posts its result exactly as for a lead, but to the
probe call's own callback and with a token made for probe calls, so it never touches a lead.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from dnc.services import dnc_entries
from leads.models import Site
from leads.phones import PhoneError, phone_normalize
from telephony import voximplant
from telephony.disclosure import CALLBACK_DIGIT, disclosure_settings
from telephony.models import ProbeCall
from telephony.policy import call_settings_for, not_callable_reason
from telephony.scenario import scenario_version
from telephony.services import CUSTOM_DATA_LIMIT, CallbackRefused, CallResult
from telephony.tokens import probe_call_token, probe_call_token_valid

logger = logging.getLogger(__name__)
Status = ProbeCall.Status


class ProbeCallRefused(Exception):
    """The call cannot be placed (not configured, or not a number we may call); nothing was started."""


def probe_call_start(*, user: AbstractBaseUser, phone: str, site: Site | None) -> ProbeCall:
    """Dial `phone` now with the rule and caller ID of `site` (or the global ones), whatever the calling
    hours. The row is written before StartScenarios; a refusal by VoxImplant ends it as failed."""
    client = voximplant.client_from_settings()
    cfg = call_settings_for(site or Site())
    if client is None or not cfg.rule_id or not cfg.caller_id or not settings.VOXIMPLANT_CALLBACK_SECRET:
        raise ProbeCallRefused(_("VoxImplant is not configured: set the credentials, VOXIMPLANT_RULE_ID, "
                                 "VOXIMPLANT_CALLER_ID and VOXIMPLANT_CALLBACK_SECRET."))
    try:
        number = phone_normalize(phone, region=(site and site.phone_region) or settings.PHONE_REGION)
    except PhoneError as exc:
        raise ProbeCallRefused(str(exc)) from None
    reason = not_callable_reason(number, cfg)
    if reason:
        raise ProbeCallRefused(reason)
    if dnc_entries(phone=number, site=site).exists():  # a test is a call too
        raise ProbeCallRefused(_("%(phone)s is on the do-not-call list.") % {"phone": number})
    call = ProbeCall.objects.create(phone=number, caller_id=cfg.caller_id, site=site, requested_by=user)
    try:
        started = client.start_scenarios(rule_id=cfg.rule_id, custom_data=_custom_data(call))
    except voximplant.VoximplantError as exc:
        ProbeCall.objects.filter(pk=call.pk, status=Status.STARTING).update(status=Status.FAILED, detail=str(exc)[:300])
    else:
        ProbeCall.objects.filter(pk=call.pk, status=Status.STARTING).update(status=Status.STARTED,
                                                                            session_id=started.session_id)
    call.refresh_from_db()
    logger.info("probe call %s to %s: %s", call.pk, number, call.status)
    return call


def _custom_data(call: ProbeCall) -> str:
    """The same shape as a lead's call (attempt_id, token, callback_url; phone and caller ID while they fit)."""
    data = {"attempt_id": call.pk, "token": probe_call_token(call.pk),
            "callback_url": settings.PUBLIC_BASE_URL + reverse("voximplant-probe-call")}
    for key, value in (("phone", call.phone), ("caller_id", call.caller_id)):
        longer = json.dumps({**data, key: value}, separators=(",", ":"))
        if len(longer.encode()) <= CUSTOM_DATA_LIMIT:
            data[key] = value
    return json.dumps(data, separators=(",", ":"))


def probe_call_settings(*, attempt_id: int, token: str) -> dict:
    """What the scenario needs to place the probe call: the site's message, or a short test text."""
    call = _authorised(attempt_id, token)
    site = call.site or Site()
    return {
        "phone": call.phone,
        "caller_id": call.caller_id,
        "recording_url": site.recording_url,
        "tts_text": site.tts_text or _("This is a test call from Leadcaller: calls work. "
                                       "Press %(digit)s to end it.") % {"digit": CALLBACK_DIGIT},
        "tts_voice": site.tts_voice,
        "amd_model": site.amd_model,
        "amd_timeout_ms": 6500,
        "callback_digit": CALLBACK_DIGIT,
        "key_wait_seconds": 5,
        **disclosure_settings(site),
        "scenario_version": scenario_version(),
    }


def probe_call_result_record(result: CallResult) -> str:
    """The scenario's result: "applied", or "repeat" when one was already taken (only the first counts)."""
    _authorised(result.attempt_id, result.token)
    with transaction.atomic():
        call = ProbeCall.objects.select_for_update().get(pk=result.attempt_id)
        if call.status == Status.FINISHED:
            return "repeat"
        call.status, call.outcome, call.finished_at = Status.FINISHED, result.result, timezone.now()
        call.duration, call.digits, call.detail = result.duration, result.digits[:32], result.detail[:300]
        call.session_id = call.session_id or result.session_id
        call.scenario_version = result.scenario_version
        call.save()
    return "applied"


def _authorised(call_id: int, token: str) -> ProbeCall:
    call = ProbeCall.objects.select_related("site").filter(pk=call_id).first()
    if call is None or not probe_call_token_valid(call_id, token):
        raise CallbackRefused()
    return call
