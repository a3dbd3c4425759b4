"""Counts the SQL statements each benchmarked process sends, by where in our code they come from.

Loaded by Python at start-up (it is on PYTHONPATH only when bench/speed_to_lead.py runs with
`--count-statements`), and only acts when LC_STATEMENT_CENSUS_DIR names a folder: every 10 statements
the process writes its running counts to <folder>/<pid>.json, keyed "<module>:<function> <VERB>" by
the innermost frame of the project's own code, past the modules that send statements on their callers'
behalf (PLUMBING). BEGIN and COMMIT are not Django cursor statements and are not counted.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import Counter
from pathlib import Path

FOLDER = os.environ.get("LC_STATEMENT_CENSUS_DIR", "")
ROOT = str(Path(__file__).resolve().parents[2]) + os.sep
# Their statements are counted where their callers are: they only build and send them.
PLUMBING = {os.path.join(ROOT, "leadcaller", "compiled.py"), os.path.join(ROOT, "leads", "timeline.py")}

if FOLDER:
    from django.db.backends import utils

    _counts: Counter[str] = Counter()
    _lock = threading.Lock()
    _original = utils.CursorWrapper._execute

    def _caller() -> str:
        frame = sys._getframe(3)
        while frame is not None:
            path = frame.f_code.co_filename
            if (path.startswith(ROOT) and f"{os.sep}.venv{os.sep}" not in path and f"{os.sep}bench{os.sep}" not in path
                    and path not in PLUMBING):
                module = path[len(ROOT):].removesuffix(".py").replace(os.sep, ".")
                return f"{module}:{frame.f_code.co_name}"
            frame = frame.f_back
        return "(outside the project's code)"

    def _counted(self, sql, params, *ignored):
        key = f"{_caller()} {sql.split(None, 1)[0].upper() if sql else '?'}"
        with _lock:
            _counts[key] += 1
            if sum(_counts.values()) % 10 == 0:
                Path(FOLDER, f"{os.getpid()}.json").write_text(json.dumps(_counts))
        return _original(self, sql, params, *ignored)

    utils.CursorWrapper._execute = _counted
