"""The speed-to-lead benchmark's CPU split (bench/speed_to_lead.py): a PostgreSQL backend that ends inside
the window still counts for the stack, and the bench's own look-ups do not."""

from __future__ import annotations

import pytest

from bench import speed_to_lead
from bench.speed_to_lead import watched_core_seconds


def test_a_backend_that_ended_in_the_window_counts_and_others_do_not(monkeypatch):
    monkeypatch.setattr(speed_to_lead, "BENCH_BACKENDS", {40})
    db = speed_to_lead.DB_NAME
    groups = {"web": [10], "postgres (all)": [1, 20]}  # as read at the window's start
    used = {  # pid -> (command line, core-seconds in the window), as the watch last saw each
        10: ("gunicorn leadcaller.wsgi", 2.0),
        1: ("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main", 0.1),
        20: (f"postgres: 15/main: postgres {db} 127.0.0.1(50000) idle", 0.5),  # closed at CONN_MAX_AGE
        30: (f"postgres: 15/main: postgres {db} 127.0.0.1(50002) idle", 0.7),  # its successor, also gone
        40: (f"postgres: 15/main: postgres {db} 127.0.0.1(50004) idle", 0.9),  # the bench's own look-up
        50: ("postgres: 15/main: postgres test 127.0.0.1(50006) idle", 3.0),  # someone else's database
    }

    split = watched_core_seconds(used, groups)

    assert split == {"web": 2.0, "postgres (all)": pytest.approx(0.1 + 0.5 + 0.7)}
