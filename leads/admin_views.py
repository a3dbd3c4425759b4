"""Admin pages that are not a model's."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from leads.integrations import integrations_status


@permission_required("leads.view_bitrixauth", raise_exception=True)
def integrations_view(request: HttpRequest) -> HttpResponse:
    context = {**admin.site.each_context(request), "integrations": integrations_status()}
    return render(request, "admin/integrations.html", context)
