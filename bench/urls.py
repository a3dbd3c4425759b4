"""The project's URLs plus `/bench/ceiling/` (bench/intake.py) and `/bench/floor/` (bench/floor.py, for
bench/speed_to_lead.py), for benchmarks only (see bench/settings.py).

The ceiling is the least a Django view can do on this server: the same gunicorn workers, settings
and middleware as the intake, a body read and a tiny JSON answer, no database and no broker. The
intake's throughput is measured against it.
"""

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench.floor import floor_intake
from leadcaller.urls import urlpatterns as project_urlpatterns


@csrf_exempt  # the intake (a DRF view without session authentication) is exempt too
def ceiling(request: HttpRequest) -> JsonResponse:
    request.body  # noqa: B018  read the lead's body, as the intake must
    return JsonResponse({"ok": True}, status=201)


urlpatterns = [path("bench/ceiling/", ceiling, name="bench-ceiling"),
               path("bench/floor/", floor_intake, name="bench-floor"), *project_urlpatterns]
