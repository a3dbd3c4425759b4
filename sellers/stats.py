"""Seller figures for the dashboard: speed to conversation, and a row per seller.

Speed to conversation is form submitted -> a seller joined to the lead (CallAttempt.seller_connected_at),
beside speed to lead (-> first dial). Both use the nearest-rank percentile picked by the database, so
one value is fetched whatever the number of rows. The filters are the dashboard's (dashboard/stats.Period).
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum

from dashboard import waits
from dashboard.stats import Period, leads_in
from sellers.models import SellerOffer
from telephony.models import CallAttempt

CONVERSATION_WAIT = ExpressionWrapper(F("seller_connected_at") - F("lead__created_at"), output_field=DurationField())


def speed_to_conversation(period: Period) -> dict:
    """Median and 90th percentile of form -> seller talking, over the period's leads that got a seller."""
    joined = CallAttempt.objects.filter(lead__in=leads_in(period)).exclude(seller_connected_at=None)
    ordered = joined.annotate(wait=CONVERSATION_WAIT).order_by("wait").values_list("wait", flat=True)
    count = ordered.count()
    if not count:
        return {"median": None, "p90": None, "connected": 0}
    return {"median": _seconds(ordered[waits.nearest_rank(0.5, count) - 1]),
            "p90": _seconds(ordered[waits.nearest_rank(0.9, count) - 1]), "connected": count}


def offers_in(period: Period) -> QuerySet[SellerOffer]:
    return SellerOffer.objects.filter(attempt__lead__in=leads_in(period))


def seller_rows(period: Period) -> list[dict]:
    """Per seller: calls offered, answered (talked), missed, median seconds to answer, talk time."""
    offers = offers_in(period)
    Result = SellerOffer.Result
    rows = list(offers.order_by().values("seller_id", "seller__name").annotate(
        offered=Count("id"), answered=Count("id", filter=Q(result=Result.CONNECTED)),
        missed=Count("id", filter=Q(result=Result.MISSED)), talk_time=Sum("talk_time"),
    ).order_by("seller__name", "seller_id"))
    for row in rows:
        row["median_answer"] = _median(offers.filter(seller_id=row["seller_id"]).exclude(time_to_answer=None)
                                       .order_by("time_to_answer").values_list("time_to_answer", flat=True))
        row["talk_time"] = row["talk_time"] or 0
    return rows


def _median(ordered) -> int | None:
    count = ordered.count()
    return ordered[waits.nearest_rank(0.5, count) - 1] if count else None


def _seconds(wait: timedelta | float) -> float:
    # SQLite returns the difference of two datetimes as microseconds, PostgreSQL as an interval.
    return wait.total_seconds() if isinstance(wait, timedelta) else wait / 1_000_000
