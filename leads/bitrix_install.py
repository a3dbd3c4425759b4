"""`POST /api/v1/crm/bitrix/install/`: the request Bitrix24 sends when the shop installs our application."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from leads.bitrix import BitrixError, auth_install

logger = logging.getLogger(__name__)


@csrf_exempt  # Bitrix24 posts from its own pages; the tokens are proven against our portal instead
@require_POST
def bitrix_install(request: HttpRequest) -> HttpResponse:
    if not settings.BITRIX_PORTAL_URL:
        return HttpResponseBadRequest("This Leadcaller is not set up for a Bitrix24 application (BITRIX_PORTAL_URL).")
    data = request.POST
    # The install page sends AUTH_ID/REFRESH_ID; the ONAPPINSTALL event sends auth[...] fields.
    access = data.get("AUTH_ID") or data.get("auth[access_token]", "")
    refresh = data.get("REFRESH_ID") or data.get("auth[refresh_token]", "")
    member_id = data.get("member_id") or data.get("auth[member_id]", "")
    if not (access and refresh and member_id):
        return HttpResponseBadRequest("AUTH_ID, REFRESH_ID and member_id are required.")
    try:
        expires = int(data.get("AUTH_EXPIRES") or data.get("auth[expires_in]") or 3600)
        auth_install(member_id=member_id, access_token=access, refresh_token=refresh, expires_in=expires)
    except ValueError:
        return HttpResponseBadRequest("AUTH_EXPIRES must be a number.")
    except BitrixError as exc:
        logger.warning("Bitrix24 install refused: %s", exc)
        return HttpResponseForbidden("These tokens do not work with the configured portal.")
    logger.info("Bitrix24 application installed for portal %s", member_id)
    return render(request, "bitrix_installed.html")
