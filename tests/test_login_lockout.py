"""Log-in lock-out (django-axes) on the admin's and the dashboard's log-in: a guesser is stopped, the
address is never taken from a header the client wrote, and an administrator unlocks in the admin."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import Group, User

pytestmark = pytest.mark.django_db

ADMIN_LOGIN, DASHBOARD_LOGIN = "/admin/login/", "/dashboard/login/"
PASSWORD = "right horse battery staple"


@pytest.fixture
def staff(groups):
    user = User.objects.create_user("anna", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="administrators"))
    return user


def log_in(client, path: str, password: str, **headers):
    return client.post(path, {"username": "anna", "password": password}, **headers)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("path", [ADMIN_LOGIN, DASHBOARD_LOGIN])
def test_thirty_wrong_passwords_lock_the_log_in_and_the_right_one_is_refused_until_unlocked(client, staff, path,
                                                                                             settings):
    answers = [log_in(client, path, f"guess {n}").status_code for n in range(30)]

    limit = settings.AXES_FAILURE_LIMIT
    assert answers[:limit - 1] == [200] * (limit - 1)  # the form again, "wrong password"
    assert set(answers[limit:]) == {429}
    refused = log_in(client, path, PASSWORD)
    assert refused.status_code == 429 and not logged_in(client)
    page = refused.content.decode()
    assert "Log-in paused" in page and "Try again in 15 minutes" in page and 'href="/static/css/site.css' in page


def test_an_administrator_sees_the_lock_out_in_the_admin_and_unlocking_there_lets_them_in(client, staff):
    for n in range(10):
        log_in(client, ADMIN_LOGIN, f"guess {n}")
    assert log_in(client, ADMIN_LOGIN, PASSWORD).status_code == 429

    admin = client.__class__()
    admin.force_login(User.objects.create_user("boss", is_staff=True))
    User.objects.get(username="boss").groups.add(Group.objects.get(name="administrators"))
    listing = admin.get("/admin/axes/accessattempt/?locked_out=yes")
    assert listing.status_code == 200 and "anna" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="anna")
    unlocked = admin.post("/admin/axes/accessattempt/", {"action": "delete_selected", "_selected_action": [attempt.pk],
                                                         "post": "yes"})
    assert unlocked.status_code == 302 and not AccessAttempt.objects.exists()

    assert log_in(client, ADMIN_LOGIN, PASSWORD).status_code == 302 and logged_in(client)


def test_the_lock_is_for_that_user_name_from_that_address(client, staff):
    for n in range(10):
        log_in(client, DASHBOARD_LOGIN, f"guess {n}", REMOTE_ADDR="203.0.113.9")

    assert log_in(client, DASHBOARD_LOGIN, PASSWORD, REMOTE_ADDR="198.51.100.4").status_code == 302
    assert logged_in(client)


def test_a_forged_forwarding_header_changes_nothing_without_a_declared_proxy(client, staff):
    answers = [log_in(client, ADMIN_LOGIN, f"guess {n}", REMOTE_ADDR="203.0.113.9",
                      HTTP_X_FORWARDED_FOR=f"10.0.0.{n}").status_code for n in range(10)]

    assert answers[-1] == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.9"]


def test_behind_one_proxy_the_address_is_the_one_the_proxy_saw_not_what_the_client_wrote(client, staff, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    # nginx appends the address it saw; whatever the client sent stays on the left.
    answers = [log_in(client, ADMIN_LOGIN, f"guess {n}", REMOTE_ADDR="127.0.0.1",
                      HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 203.0.113.9").status_code for n in range(10)]

    assert answers[-1] == 429
    assert list(AccessAttempt.objects.values_list("ip_address", flat=True)) == ["203.0.113.9"]
    # Another visitor behind the same proxy is not locked out.
    assert log_in(client, ADMIN_LOGIN, PASSWORD, REMOTE_ADDR="127.0.0.1",
                  HTTP_X_FORWARDED_FOR="198.51.100.4").status_code == 302


def test_the_lock_out_page_is_translated(client, staff):
    for n in range(10):
        log_in(client, DASHBOARD_LOGIN, f"guess {n}", HTTP_ACCEPT_LANGUAGE="ru")

    page = log_in(client, DASHBOARD_LOGIN, PASSWORD, HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Вход приостановлен" in page and "15 минут" in page


def test_the_admins_lock_out_list_is_in_russian(client, staff):
    for n in range(10):
        log_in(client, ADMIN_LOGIN, f"guess {n}")
    admin = client.__class__()
    admin.force_login(User.objects.create_superuser("boss"))

    index = admin.get("/admin/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    listing = admin.get("/admin/axes/accessattempt/", HTTP_ACCEPT_LANGUAGE="ru").content.decode()
    assert "Блокировки входа" in index and "Попытки доступа" in index
    assert "Заблокирован" in listing and "Имя пользователя" in listing
