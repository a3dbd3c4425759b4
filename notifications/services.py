"""The notify step."""

from __future__ import annotations

from leads.models import Lead
from leads.pipeline import Outcome, Skipped


def notify_step_handle(lead: Lead) -> Outcome:
    return Skipped("Telegram is not connected; nobody is notified.")
