"""The admin says Leadcaller, in English and in Russian."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("language", "header", "title", "index"), [
    ("en", "Leadcaller administration", "Leadcaller admin", "Leads, calls and settings"),
    ("ru", "Администрирование Leadcaller", "Админка Leadcaller", "Лиды, звонки и настройки"),
])
def test_the_admin_is_branded_leadcaller(client, language, header, title, index):
    login = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    client.force_login(User.objects.create_superuser("boss"))
    page = client.get("/admin/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert f'<a href="/admin/">{header}</a>' in page and f"<title>{index} | {title}</title>" in page
    assert header in login and "Django administration" not in login + page
