"""The limits a Bitrix24 cloud portal enforces, for the fake in ``demo/fakes/bitrix24.py``.

Written from Bitrix24's own pages (GitHub ``bitrix24/b24restdocs``): ``limits.md`` (the leaky bucket and the
method-time budget), ``_includes/system-errors.md`` (503 ``QUERY_LIMIT_EXCEEDED``, 429 ``OPERATION_TIME_LIMIT``),
``_includes/result-common-data.md`` and the ``crm.lead.add`` answer example (``time.operating``,
``time.operating_reset_at``), and the helpdesk article "Changes in REST 22.0.0" (the budget is per portal and
method, shared by every application and webhook). The 60 s execution cap of one request is reference section 1.9.
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque

# limits.md, "Request Intensity Limits": threshold X and drain Y per plan.
PLANS: dict[str, tuple[int, float]] = {"standard": (50, 2.0), "enterprise": (250, 5.0)}
# One request runs for at most this long in the cloud, then the portal stops waiting on it (reference 1.9);
# what it did by then stays done.
EXECUTION_CAP = 60.0
# limits.md, "Resource Consumption Limits": 480 s of one method within 10 minutes blocks that method.
OPERATING_LIMIT = 480.0
OPERATING_WINDOW = 600.0


class LeakyBucket:
    """One counter per portal: each request adds 1, it drains ``drain_per_second``; a request that would take
    it past ``threshold`` is refused (and adds nothing)."""

    def __init__(self, threshold: int, drain_per_second: float) -> None:
        self.threshold, self.drain_per_second = threshold, drain_per_second
        self._level, self._at = 0.0, time.monotonic()
        self._lock = threading.Lock()

    def admit(self) -> bool:
        with self._lock:
            now = time.monotonic()
            self._level = max(0.0, self._level - (now - self._at) * self.drain_per_second)
            self._at = now
            if self._level + 1 > self.threshold:
                return False
            self._level += 1
            return True

    def reset(self) -> None:
        with self._lock:
            self._level, self._at = 0.0, time.monotonic()


class OperatingBudget:
    """Execution time per method over the last ten minutes. Over ``limit``, the method answers 429 until the
    oldest counted time leaves the window (``operating_reset_at``); other methods carry on. A ``batch`` itself is
    not counted, the calls inside it are (reference 1.9)."""

    def __init__(self, limit: float = OPERATING_LIMIT, window: float = OPERATING_WINDOW) -> None:
        self.limit, self.window = limit, window
        self._spent: dict[str, deque[tuple[float, float]]] = defaultdict(deque)  # method -> (started, seconds)
        self._lock = threading.Lock()

    def blocked(self, method: str) -> bool:
        with self._lock:
            return self._sum(method, time.time()) > self.limit

    def charge(self, method: str, started: float, seconds: float) -> None:
        with self._lock:
            self._spent[method].append((started, seconds))

    def time_fields(self, method: str) -> dict[str, float]:
        """``operating`` (seconds of this method in the window) and ``operating_reset_at`` (unix time when the
        oldest of them stops counting: crm-lead-add.md's example shows a fresh method's as its start + 600).
        With nothing counted there is nothing to release: ``operating`` 0 alone (crm-lead-list.md's example)."""
        with self._lock:
            operating = self._sum(method, time.time())
            if not self._spent[method]:
                return {"operating": 0}
            return {"operating": operating, "operating_reset_at": math.ceil(self._spent[method][0][0] + self.window)}

    def reset(self) -> None:
        with self._lock:
            self._spent.clear()

    def _sum(self, method: str, now: float) -> float:
        spent = self._spent[method]
        while spent and spent[0][0] + self.window <= now:
            spent.popleft()
        return sum(seconds for _, seconds in spent)
