"""demo/keepalive.py: under `make run`, a process that dies is reported and started again, and only
honcho's stop (a signal to the process group) ends it for good."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from tests.conftest import ROOT, wait_for


def started_pids(log) -> list[int]:
    return [int(pid) for pid in re.findall(r"^sleeper started \(pid=(\d+)\)$", log.read_text(), re.M)]


def test_a_process_that_dies_is_reported_and_started_again_until_the_group_is_stopped(tmp_path):
    log = tmp_path / "keepalive.log"
    with open(log, "w") as out:
        guard = subprocess.Popen([sys.executable, "-m", "demo.keepalive", "sleeper", "sleep 600"], cwd=ROOT,
                                 stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # as honcho does
    try:
        assert wait_for(lambda: len(started_pids(log)) == 1, timeout=20), log.read_text()
        first = started_pids(log)[0]
        os.kill(first, signal.SIGKILL)  # the process the guard started for this test

        assert wait_for(lambda: len(started_pids(log)) == 2, timeout=20), log.read_text()
        assert "sleeper exited with code -9; starting it again in 1 s" in log.read_text()
        second = started_pids(log)[1]
        assert second != first and guard.poll() is None

        os.killpg(guard.pid, signal.SIGTERM)  # what honcho sends when `make run` stops
        assert guard.wait(timeout=20) != 0
        assert len(started_pids(log)) == 2
        assert not os.path.exists(f"/proc/{second}") or "zombie" in open(f"/proc/{second}/status").read().lower()
    finally:
        if guard.poll() is None:  # the test failed half-way: the group this test made, by its id
            os.killpg(guard.pid, signal.SIGKILL)
            guard.wait()
