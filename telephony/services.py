"""The call step."""

from __future__ import annotations

from leads.models import Lead
from leads.pipeline import Manual, Outcome


def call_step_handle(lead: Lead) -> Outcome:
    # No provider is connected yet (see the calling issue): a person has to call this lead.
    return Manual("Automatic calling is not configured; call the lead by hand.")
