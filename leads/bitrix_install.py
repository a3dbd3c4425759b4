"""`POST /api/v1/crm/bitrix/install/`: the request Bitrix24 sends when the shop installs our application.

Bitrix24 shows an application's pages inside the portal, in a frame (b24restdocs
`local-integrations/serverside-local-app-with-ui.md`, "Permission to embed"): it POSTs the tokens
(AUTH_ID, REFRESH_ID, AUTH_EXPIRES, member_id) to this page in that frame, and the page must then call
`BX24.installFinish()` (`sdk/bx24-js-sdk/system-functions/bx24-install-finish.md`), or the application
stays "not installed". So this page, and only application pages like it, may be framed, and only by
the configured portal.
"""

from __future__ import annotations

import logging
from functools import wraps
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from leads.bitrix import BitrixError, auth_install

logger = logging.getLogger(__name__)


def framed_by_portal(view):
    """Let the configured portal, and no other site, show the view's answers in a frame.

    `frame-ancestors` names the one origin; X-Frame-Options is left off, because its only values
    that could allow it (ALLOW-FROM) are ignored by current browsers and DENY would win."""
    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        origin = portal_origin()
        if origin:
            response["Content-Security-Policy"] = f"frame-ancestors {origin}"
            response.xframe_options_exempt = True
        return response
    return wrapped


def portal_origin() -> str:
    """`https://shop.bitrix24.ru` of BITRIX_PORTAL_URL; empty when no application is set up."""
    parts = urlsplit(settings.BITRIX_PORTAL_URL)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


@csrf_exempt  # Bitrix24 posts from its own pages; the tokens are proven against our portal instead
@framed_by_portal
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
    # The page calls BX24.installFinish() (static/js/bitrix-install.js) once the tokens are kept.
    return render(request, "bitrix_installed.html")
