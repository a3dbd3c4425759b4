"""The intake benchmark's ceiling view exists only under bench.settings, never in a deployment."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import NoReverseMatch, reverse


def test_ceiling_view_is_not_mounted_by_the_project_settings(client):
    response = client.post("/bench/ceiling/", data=b"{}", content_type="application/json")

    assert response.status_code == 404
    with pytest.raises(NoReverseMatch):
        reverse("bench-ceiling")


def test_bench_settings_differ_from_the_project_settings_only_by_the_urlconf():
    import bench.settings
    import leadcaller.settings

    project = {k: v for k, v in vars(leadcaller.settings).items() if k.isupper()}
    benched = {k: v for k, v in vars(bench.settings).items() if k.isupper()}

    assert {k for k in project if project[k] != benched.get(k)} == {"ROOT_URLCONF"}
    assert benched["ROOT_URLCONF"] == "bench.urls"


@override_settings(ROOT_URLCONF="bench.urls")
def test_ceiling_view_answers_where_the_bench_urlconf_is_chosen(client):
    response = client.post("/bench/ceiling/", data=b'{"phone": "+79120000001"}', content_type="application/json")

    assert response.status_code == 201
    assert response.json() == {"ok": True}
