"""Django's PostgreSQL backend, with the kept connection's health check made cheap.

With CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query of every request and every task:
one more round trip for each of the three requests and the call task a lead makes. Here a kept connection
is checked that way only when its socket has something to say, or when it has not been checked for
HEALTH_CHECK_DELAY. An idle connection receives nothing, so input waiting on its socket means the server
sent its last words (a restart, pg_terminate_backend, an idle timeout) or closed it; that costs one poll, not
a round trip. The delay still catches what a socket cannot show (a connection dropped silently on the way),
as PgBouncer's `server_check_delay` does.
"""

from __future__ import annotations

import select
import time

from django.db.backends.postgresql import base

HEALTH_CHECK_DELAY = 2.0  # seconds


class DatabaseWrapper(base.DatabaseWrapper):
    health_check_delay = HEALTH_CHECK_DELAY

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._trusted_until = 0.0

    def connect(self) -> None:
        super().connect()
        self._trusted_until = time.monotonic() + self.health_check_delay

    def close_if_health_check_failed(self) -> None:
        if self.connection is None or not self.health_check_enabled or self.health_check_done:
            return
        now = time.monotonic()
        if now < self._trusted_until and self._socket_quiet():
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
        if self.connection is not None:  # it answered
            self._trusted_until = now + self.health_check_delay

    def _socket_quiet(self) -> bool:
        try:
            poller = select.poll()  # not select(): no limit on the descriptor's number
            poller.register(self.connection.pgconn.socket, select.POLLIN)
            return not poller.poll(0)
        except Exception:  # no socket (closed, broken): the full check tells
            return False
