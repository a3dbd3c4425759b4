"""The CRM step: the lead in the shop's Bitrix24.

Until the Bitrix24 client lands (see the CRM issue), the step is skipped with its reason on the
timeline; an integration is on only when its credentials are set.
"""

from __future__ import annotations

from leads.models import Lead
from leads.pipeline import Outcome, Skipped


def crm_step_handle(lead: Lead) -> Outcome:
    return Skipped("Bitrix24 is not connected; the lead is not sent to a CRM.")
