"""Bitrix24's limits as the portal states them, kept for every worker in the shared store.

Request rate (b24restdocs `limits.md`): a leaky bucket per portal (and source address) of X requests,
drained Y per second (BITRIX_PLAN: 50 and 2/s, or 250 and 5/s on Enterprise); past X the portal
answers 503 QUERY_LIMIT_EXCEEDED. Every request first takes a token from our share of it
(BITRIX_REQUESTS_PER_SECOND, BITRIX_BURST). A 503 says the portal's counter is full, whoever filled
it: our bucket learns that, and every worker waits while the portal drains to where our burst fits
again ((X - burst + 1) / rate: 24 s on ordinary plans).

Method time (`limits.md`, helpdesk "Changes in REST 22.0.0"): each method's execution time on the
portal is summed over ten minutes; past the budget the method answers 429 OPERATION_TIME_LIMIT until
part of it is released at the `time.operating_reset_at` that the method's answers report. Error
answers carry no `time` (b24jssdk's RestrictionManager says the same), so we keep what each method's
last answer said, and a 429 holds that method for every worker until then.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings

from leads import ratelimit

logger = logging.getLogger(__name__)

# The budget is summed in one-minute baskets: part of it is released within a minute at the latest.
BASKET = 60.0


def wait_to_send(portal: str, methods: Iterable[str]) -> float:
    """Take a token for one request carrying `methods`; 0, or the seconds to wait (nothing taken)."""
    return ratelimit.take(portal, rate=settings.BITRIX_REQUESTS_PER_SECOND, capacity=settings.BITRIX_BURST,
                          holds=[_hold_key(portal, method) for method in methods])


def room_in(portal: str) -> float:
    """Seconds until our share of the portal's rate has a request free for a `batch` (nothing taken)."""
    return ratelimit.peek(portal, rate=settings.BITRIX_REQUESTS_PER_SECOND, capacity=settings.BITRIX_BURST,
                          holds=[_hold_key(portal, "batch")])


def portal_full(portal: str) -> float:
    """503 QUERY_LIMIT_EXCEEDED: the portal's counter stands at X. Returns the wait every worker now has."""
    debt = min(0, settings.BITRIX_BURST - settings.BITRIX_QUERY_LIMIT)
    try:
        return ratelimit.lower(portal, tokens=debt, rate=settings.BITRIX_REQUESTS_PER_SECOND,
                               capacity=settings.BITRIX_BURST)
    except ratelimit.StoreDown:  # not shared, but this worker still waits out the portal's counter
        return (1 - debt) / settings.BITRIX_REQUESTS_PER_SECOND


def method_blocked(portal: str, method: str) -> float:
    """429 OPERATION_TIME_LIMIT for `method`: hold it for every worker until the reset its last answer
    reported (a second past it: the portal counts whole seconds), or one basket when none is known.
    Returns the wait."""
    try:
        reset = ratelimit.marked(_reset_key(portal, method))
        until = reset + 1 if reset else time.time() + BASKET
        ratelimit.mark(_hold_key(portal, method), until)
    except ratelimit.StoreDown:  # not shared, but this worker still waits a basket
        return BASKET
    return max(0.0, until - time.time())


def note_answer(portal: str, method: str, body: Mapping[str, Any], nested: Mapping[str, str]) -> None:
    """Keep the `operating_reset_at` of each method in this answer: its own `time`, and for a batch the
    `result_time` of each call inside it (`nested`: command key -> method)."""
    resets: dict[str, float] = {}
    _reported(resets, method, body.get("time"))
    inner = body.get("result") if method == "batch" else None
    timings = inner.get("result_time") if isinstance(inner, dict) else None
    for key, timing in timings.items() if isinstance(timings, dict) else ():  # PHP sends an empty one as []
        if key in nested:
            _reported(resets, nested[key], timing)
    try:
        for name, at in resets.items():
            ratelimit.mark(_reset_key(portal, name), at)
    except ratelimit.StoreDown as exc:  # the answer in hand matters more than what it says of the limits
        logger.warning("Bitrix24's method times not kept, the rate-limit store is unreachable: %s", exc)


def _reported(resets: dict[str, float], method: str, timing: Any) -> None:
    try:
        at = float(timing["operating_reset_at"])
    except (TypeError, KeyError, ValueError):  # a self-hosted portal reports none
        return
    resets[method] = max(at, resets.get(method, at))


def _hold_key(portal: str, method: str) -> str:
    return f"{portal}:held:{method}"


def _reset_key(portal: str, method: str) -> str:
    return f"{portal}:reset:{method}"
