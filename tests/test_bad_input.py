"""No input is a way to a server error: over-deep and oversized bodies on every endpoint, dates out of
range on the dashboard. (tests/test_api_fuzz.py throws generated input at the same endpoints.)"""

from __future__ import annotations

import json

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from leadcaller.parsers import MAX_DEPTH, BoundedJSONParser
from leads.models import Lead
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
INTAKE = "/api/v1/leads/"
CALLBACK = "/api/v1/telephony/voximplant/callback/"


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def drf_views(patterns=None) -> list[type[APIView]]:
    found = []
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            found += drf_views(entry.url_patterns)
        elif isinstance(entry, URLPattern) and isinstance(getattr(entry.callback, "cls", None), type) \
                and issubclass(entry.callback.cls, APIView):
            found.append(entry.callback.cls)
    return found


def test_every_api_view_reads_json_with_the_bounded_parser():
    views = drf_views()

    assert len(views) >= 2
    for view in views:
        json_parsers = [p for p in view().get_parsers() if "json" in p.media_type]
        assert json_parsers and all(isinstance(p, BoundedJSONParser) for p in json_parsers), view


@pytest.mark.parametrize("url", [INTAKE, CALLBACK])
@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
@pytest.mark.parametrize("depth", [5000, MAX_DEPTH + 1])
def test_json_nested_too_deep_is_400_everywhere(api, url, content_type, depth):
    SiteFactory(domain="shop.example")
    response = api.generic("POST", url, nested(depth), content_type=content_type, HTTP_ORIGIN="https://shop.example")

    # The callback takes JSON only: a form body there is 415 before it is read.
    expected = 415 if (url, content_type) == (CALLBACK, "application/x-www-form-urlencoded") else 400
    assert response.status_code == expected
    assert not Lead.objects.exists()


def test_an_envelope_nested_deep_inside_is_400(api):
    SiteFactory(domain="shop.example")
    extra = json.loads(nested(MAX_DEPTH))
    body = {"ops": [{"data": {"server": {"HTTP_HOST": "shop.example"}, "post": {"phone": "+79123456789",
                                                                              "extra": extra}}}]}

    assert api.post(INTAKE, body, format="json").status_code == 400


def test_json_just_within_the_depth_limit_is_read(api):
    SiteFactory(domain="shop.example")
    extra = json.loads(nested(MAX_DEPTH - 2))

    response = api.post(INTAKE, {"phone": "+79123456789", "extra": extra}, format="json",
                        HTTP_ORIGIN="https://shop.example")

    assert response.status_code == 201


def test_a_body_over_djangos_limit_is_400_on_the_callback_and_413_on_intake(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = settings.INTAKE_MAX_BYTES = 1000
    body = json.dumps({"attempt_id": 1, "token": "x", "result": "human", "detail": "x" * 2000})

    assert api.generic("POST", CALLBACK, body, content_type="application/json").status_code == 400
    assert api.generic("POST", INTAKE, body, content_type="application/json").status_code == 413


@pytest.mark.parametrize("query", [
    {"range": "custom", "start": "9999-12-01", "end": "9999-12-31"},
    {"range": "custom", "start": "0001-01-01", "end": "0001-01-02"},
    {"range": "custom", "start": "1999-12-31", "end": "2000-01-05"},
])
@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/charts/series/", "/dashboard/charts/outcomes/",
                                  "/dashboard/charts/partner-sums/", "/dashboard/partners.csv", "/dashboard/sites.csv"])
def test_dashboard_dates_out_of_range_are_400(client, groups, path, query):
    from django.contrib.auth.models import Group, User

    manager = User.objects.create_user("olga", password="x")
    manager.groups.add(Group.objects.get(name="managers"))
    client.force_login(manager)

    assert client.get(path, query).status_code == 400
