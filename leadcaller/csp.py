"""Content-Security-Policy for the pages people open in a browser: the admin, the demo form and the
simulators page, the API docs (the dashboard sends the same policy itself, dashboard/access.py).

Every script and style of these pages is a file from this server: Django's admin has no inline
script, the demo's are static files, and the Swagger UI is served split (its settings script is a
separate request, drf-spectacular's SpectacularSwaggerSplitView) with our copy of its page
without the inline style (templates/drf_spectacular/swagger_ui.html). So no 'unsafe-inline' is needed.
"""

from __future__ import annotations

from typing import Callable

from django.http import HttpRequest, HttpResponse

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
# The demo form is the home page itself.
PAGES = ("/admin/", "/demo/", "/api/docs/")


class ContentSecurityPolicyMiddleware:
    """POLICY on the answers of PAGES and the home page, unless a view chose its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (request.path == "/" or request.path.startswith(PAGES)) and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = POLICY
        return response
