"""The home page: the demo shop form, with the consent box and text of the site it posts as."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy

from consent.selectors import consent_text_current
from leads.models import Site
from leads.selectors import host_normalize

# Shown, and posted as consent_text, when the site keeps no text of its own in Leadcaller.
DEFAULT_TEXT = gettext_lazy("I agree that this shop may call me back about my request, also by an automated call, "
                            "and may process my name and phone number for it.")


def home(request: HttpRequest) -> HttpResponse:
    """The form a browser posts from this host: the registered site's current text (its version is
    posted), or a default text posted as it is."""
    site = Site.objects.filter(domain=host_normalize(request.get_host()), is_active=True).first()
    current = consent_text_current(site) if site else None
    return render(request, "index.html", {
        "consent_text": current.text if current else str(DEFAULT_TEXT),
        "consent_version": current.version if current else None,
    })
