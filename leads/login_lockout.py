"""The page a locked-out log-in gets (django-axes' AXES_LOCKOUT_CALLABLE), in the product's look."""

from __future__ import annotations

import math

from axes.helpers import get_cool_off
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out_page(request: HttpRequest, original_response: HttpResponse | None = None,
                    credentials: dict | None = None) -> HttpResponse:
    cool_off = get_cool_off(request)
    context = {"failure_limit": settings.AXES_FAILURE_LIMIT,
               "minutes": math.ceil(cool_off.total_seconds() / 60) if cool_off else None}
    return render(request, "locked_out.html", context, status=429)
