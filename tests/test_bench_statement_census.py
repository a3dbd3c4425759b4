"""bench/speed_to_lead.py --count-statements: each process counts its SQL statements by the place in our
code that sent them, and the benchmark sums the processes' counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = """
import django
django.setup()
from django.db import connection
with connection.cursor() as cursor:
    for _ in range(26):
        cursor.execute("SELECT 1")
"""


def test_a_process_counts_its_statements_by_where_they_come_from(tmp_path):
    from bench.speed_to_lead import census_env, statement_census

    env = {**os.environ, **census_env(tmp_path), "DJANGO_SETTINGS_MODULE": "leadcaller.settings",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'census.sqlite3'}", "LEADCALLER_VAR_DIR": str(tmp_path / "var")}
    subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, check=True, timeout=60)

    counts = statement_census(tmp_path)
    # Written every 10 statements: the 26 sent are seen as 20.
    assert sum(counts.values()) == 20
    assert set(counts) == {"(outside the project's code) SELECT"}
    assert [p.name for p in (tmp_path / "statements").iterdir()] and all(
        isinstance(json.loads(p.read_text()), dict) for p in (tmp_path / "statements").iterdir())


PLUMBED = """
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from leads.selectors import site_by_key
for _ in range(20):
    site_by_key("no-such-key")
"""


def test_a_statement_sent_through_the_compiled_statements_counts_where_its_caller_is(tmp_path):
    from bench.speed_to_lead import census_env, statement_census

    env = {**os.environ, **census_env(tmp_path), "DJANGO_SETTINGS_MODULE": "leadcaller.settings",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'census.sqlite3'}", "LEADCALLER_VAR_DIR": str(tmp_path / "var")}
    subprocess.run([sys.executable, "-c", PLUMBED], cwd=ROOT, env=env, check=True, timeout=120)

    counts = statement_census(tmp_path)
    assert counts.get("leads.selectors:site_by_key SELECT", 0) >= 10
    assert not [key for key in counts if key.startswith("leadcaller.compiled")]


def test_nothing_is_counted_without_the_flag(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "bench" / "statement_census"), "DJANGO_SETTINGS_MODULE":
           "leadcaller.settings", "DATABASE_URL": f"sqlite:///{tmp_path / 'census.sqlite3'}",
           "LEADCALLER_VAR_DIR": str(tmp_path / "var")}
    env.pop("LC_STATEMENT_CENSUS_DIR", None)
    done = subprocess.run([sys.executable, "-c", "import sys; import sitecustomize as s; print(bool(s.FOLDER))"],
                          cwd=ROOT, env=env, check=True, timeout=60, capture_output=True, text=True)

    assert done.stdout.strip() == "False"
