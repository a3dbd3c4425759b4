"""What every drill ends with: a count of the leads it sent and what became of them, and the one
rule that holds whatever broke: none is lost."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db.models import Q

from leads.models import Lead

OPEN = Q(crm_state__in=("pending", "running")) | Q(call_state__in=("pending", "running")) | \
    Q(notify_state__in=("pending", "running"))


@dataclass(frozen=True)
class Tally:
    sent: int  # posts answered 201
    stored: int  # of those, leads in the database
    processed: int  # stored leads whose every step has ended (done, skipped or failed)
    manual: int  # processed leads waiting for a person
    lost: int  # sent and never processed: must be 0

    def line(self, drill: str) -> str:
        return (f"DRILL REPORT {drill}: sent={self.sent} stored={self.stored} processed={self.processed} "
                f"manual={self.manual} lost={self.lost}")


def tally(phones: list[str]) -> Tally:
    leads = Lead.objects.filter(phone__in=phones)
    processed = leads.exclude(OPEN)
    sent = len(phones)
    done = processed.count()
    return Tally(sent=sent, stored=leads.count(), processed=done,
                 manual=processed.filter(status=Lead.Status.MANUAL).count(), lost=sent - done)


def states(phones: list[str]) -> list[tuple]:
    """Each lead's steps, for a failure message."""
    return list(Lead.objects.filter(phone__in=phones).order_by("pk").values_list(
        "phone", "status", "call_state", "crm_state", "notify_state", "call_queued_at", "crm_queued_at",
        "notify_queued_at"))


def all_processed(phones: list[str]) -> bool:
    return tally(phones).lost == 0


def report(drill: str, phones: list[str]) -> Tally:
    result = tally(phones)
    print(result.line(drill))
    return result


def one_crm_lead_per_origin(b24) -> bool:
    """Bitrix24 holds at most one lead per ORIGIN_ID (our id): no add went through twice."""
    counts = Counter(lead.get("ORIGIN_ID") for lead in b24.leads.values())
    return all(n == 1 for n in counts.values())


def starts_per_attempt(vox) -> Counter:
    """How many StartScenarios requests each call attempt sent (by the attempt id in custom data)."""
    import json

    return Counter(json.loads(r.params["script_custom_data"])["attempt_id"]
                   for r in vox.requests if r.cmd == "StartScenarios")
