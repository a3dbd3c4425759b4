"""A kept PostgreSQL connection is checked with a round trip only when its socket has input or it has not
been checked for HEALTH_CHECK_DELAY (leadcaller/postgresql/base.py); one that fails its check is replaced."""

from __future__ import annotations

import pytest
from django.db import connection, connections

from leadcaller.postgresql.base import DatabaseWrapper

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def kept():
    """A second connection of the test database, as a web process keeps one between requests."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's backend")
    wrapper = DatabaseWrapper(dict(connection.settings_dict), alias="kept")
    assert wrapper.settings_dict["CONN_HEALTH_CHECKS"] is True
    yield wrapper
    wrapper.close()


def next_request(wrapper: DatabaseWrapper) -> int:
    """What Django does between two requests, then the next request's first query. Returns its answer."""
    wrapper.close_if_unusable_or_obsolete()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT 7")
        return cursor.fetchone()[0]


def cut(wrapper: DatabaseWrapper) -> None:
    """PostgreSQL ends the session under the kept connection (a restart, an idle timeout), and its server
    process is gone when this returns (the call waits up to 5 s for it)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [wrapper.connection.info.backend_pid])
        assert cursor.fetchone()[0] is True


def test_the_settings_use_this_backend(kept):
    assert connection.settings_dict["ENGINE"] == "leadcaller.postgresql"
    assert isinstance(connections["default"], DatabaseWrapper)


def test_a_connection_the_server_ended_is_replaced_before_use_even_within_the_delay(kept):
    kept.health_check_delay = 3600
    kept.ensure_connection()
    pid = kept.connection.info.backend_pid
    cut(kept)
    assert next_request(kept) == 7  # its socket had the server's last words: checked, found cut, replaced
    assert kept.connection.info.backend_pid != pid


def test_within_the_delay_a_request_sends_no_check(kept, monkeypatch):
    kept.health_check_delay = 3600
    kept.ensure_connection()
    checks = []
    monkeypatch.setattr(kept, "is_usable", lambda: checks.append(1) or True)
    for _ in range(3):
        next_request(kept)
    kept.health_check_delay = 0
    kept._trusted_until = 0.0
    next_request(kept)
    next_request(kept)
    assert len(checks) == 2
