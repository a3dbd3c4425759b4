"""Settings for the test suite: the project's own, read from the environment as always, with two
defaults of its own so a test run shares nothing with a running Leadcaller or another test run:
a private var/ folder (SQLite test database, embedded broker) and a private key prefix on Redis."""

import atexit
import os
import shutil
import tempfile
import uuid

if "LEADCALLER_VAR_DIR" not in os.environ:
    os.environ["LEADCALLER_VAR_DIR"] = tempfile.mkdtemp(prefix="leadcaller-test-")
    atexit.register(shutil.rmtree, os.environ["LEADCALLER_VAR_DIR"], ignore_errors=True)
RUN_ID = uuid.uuid4().hex[:8]
os.environ.setdefault("REDIS_KEY_PREFIX", f"lc-test-{RUN_ID}:")

from leadcaller.settings import *  # noqa: E402,F401,F403

# Two runs on one PostgreSQL (a developer's and CI's, or parallel sessions) must not share a test
# database: each run gets its own name, and pytest-django drops it at the end.
if DATABASES["default"]["ENGINE"].endswith("postgresql"):  # noqa: F405
    DATABASES["default"].setdefault("TEST", {})["NAME"] = f"test_leadcaller_{RUN_ID}"  # noqa: F405
