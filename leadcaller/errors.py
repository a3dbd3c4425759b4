"""What a request gets when the server itself fails.

An unreachable database is an outage, not a bug: the client is told to come back (503 with
Retry-After) so a shop's script or form can retry, instead of a 500 that reads as "your request
is wrong". Django routes every uncaught exception here, from a view or from a middleware (the CORS
check reads the sites before any view runs), so one handler covers both.
"""

from __future__ import annotations

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views import defaults

RETRY_AFTER_SECONDS = 10
_OUTAGES = (OperationalError, InterfaceError)


def server_error(request: HttpRequest) -> HttpResponse:
    if not isinstance(sys.exc_info()[1], _OUTAGES):
        return defaults.server_error(request)
    message = _("The service is briefly unavailable; nothing was stored. Please try again shortly.")
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse({"detail": message}, status=503)
    else:
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
