"""Dashboard figures of the call cadence and the follow-up SMS, with the page's filters (dashboard/stats.py):
on which call the reached leads were reached, and how the messages went. Grouped queries, as the rest."""

from __future__ import annotations

from django.db.models import Count, Q

from dashboard.stats import Period, leads_in
from messaging.models import Message
from telephony.models import CallAttempt

SENT = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.UNDELIVERED)
NOT_SENT = (Message.Status.FAILED, Message.Status.SKIPPED)


def reached_by_call(period: Period) -> list[tuple[int, int]]:
    """(call number, leads reached on it) for every number from 1 to the highest, zeros included."""
    rows = dict(CallAttempt.objects.filter(lead__in=leads_in(period), outcome=CallAttempt.Outcome.HUMAN)
                .values("number").annotate(n=Count("lead_id", distinct=True)).values_list("number", "n"))
    return [(number, rows.get(number, 0)) for number in range(1, max(rows, default=0) + 1)]


def message_figures(period: Period) -> list[dict]:
    """Per kind of message: planned, sent, delivered, not delivered, not sent (all counted by the lead's arrival)."""
    rows = (Message.objects.filter(lead__in=leads_in(period)).values("kind")
            .annotate(planned=Count("id"), sent=Count("id", filter=Q(status__in=SENT)),
                      delivered=Count("id", filter=Q(status=Message.Status.DELIVERED)),
                      undelivered=Count("id", filter=Q(status=Message.Status.UNDELIVERED)),
                      not_sent=Count("id", filter=Q(status__in=NOT_SENT))))
    found = {row["kind"]: row for row in rows}
    empty = {"planned": 0, "sent": 0, "delivered": 0, "undelivered": 0, "not_sent": 0}
    return [{"kind": kind, "label": str(label), **found.get(kind, empty)} for kind, label in Message.Kind.choices]


def follow_up_summary(period: Period) -> dict:
    reached = reached_by_call(period)
    total = sum(n for _number, n in reached)
    return {"reached": [{"number": number, "count": n, "percent": round(100 * n / total, 1) if total else 0.0}
                        for number, n in reached],
            "messages": message_figures(period)}
