"""The floor pipeline for bench/speed_to_lead.py: the least a Django + Celery service can do between a
lead's POST and its StartScenarios. The view stores the lead (one INSERT), and after commit sends one
task; the task sends StartScenarios with our VoxImplant client (the same JWT and HTTP work as a dial).
Nothing else: no CRM, no Telegram, no checks. Mounted only under bench.settings (bench/urls.py); its
worker is started by the benchmark with `-I bench.floor -Q floor`.
"""

from __future__ import annotations

import json

from celery import current_app, shared_task
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

TASK = "bench.floor.call"


@csrf_exempt
def floor_intake(request: HttpRequest) -> JsonResponse:
    from leads.models import Lead, Site

    phone = json.loads(request.body)["phone"]
    site = Site.objects.only("pk").first()
    skipped = Lead.StepState.SKIPPED  # never the product's work: no step of it is due
    with transaction.atomic():
        lead = Lead.objects.create(site=site, ref=f"floor-{phone}", phone=phone, phone_raw=phone,
                                   status=Lead.Status.HANDLED, crm_state=skipped, call_state=skipped,
                                   notify_state=skipped)
        transaction.on_commit(lambda: current_app.send_task(TASK, args=(phone,), queue="floor"))
    return JsonResponse({"id": lead.pk}, status=201)


@shared_task(name=TASK)
def floor_call(phone: str) -> None:
    from django.conf import settings

    from telephony import voximplant

    client = voximplant.client_from_settings()
    client.start_scenarios(rule_id=settings.VOXIMPLANT_RULE_ID, custom_data=json.dumps({"phone": phone}))
