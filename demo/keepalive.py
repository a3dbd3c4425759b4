"""`make run`'s guard around each process: one that dies is said so on the console and started again
(after a wait that grows while it keeps dying); the other processes never notice.

    python -m demo.keepalive NAME 'COMMAND LINE'

honcho stops every process as soon as one exits, so a worker that died took web, beat and the
simulators with it (issue 14). Under this guard only a stop from honcho ends a process for good:
honcho signals each process group, and the command runs in the guard's group, so both get it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

WAITS = (1, 2, 5, 10, 30)  # seconds before the 1st, 2nd... restart in a row
STEADY_AFTER = 60.0  # a process that ran this long and then died starts again at once


def main(argv: list[str] | None = None) -> int:
    name, command = (argv if argv is not None else sys.argv[1:])[:2]
    stopping = False

    def stop(signum, frame) -> None:
        nonlocal stopping
        stopping = True  # the command got the same signal from honcho: let it end, start nothing more

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deaths = 0
    while True:
        started = time.monotonic()
        child = subprocess.Popen(["/bin/sh", "-c", f"exec {command}"])
        print(f"{name} started (pid={child.pid})", flush=True)
        code = child.wait()  # retried by Python when a signal interrupts it
        if stopping:
            return code
        deaths = 1 if time.monotonic() - started > STEADY_AFTER else deaths + 1
        pause = WAITS[min(deaths, len(WAITS)) - 1]
        print(f"{name} exited with code {code}; starting it again in {pause} s", flush=True)
        deadline = time.monotonic() + pause
        while not stopping and time.monotonic() < deadline:
            time.sleep(0.1)
        if stopping:
            return code


if __name__ == "__main__":
    sys.exit(main())
