"""What a change to a lead sets off in the apps above leads/ (the seller's Telegram card, the
manual-handling alert), without leads/ importing them: those apps register here when Django starts
(their AppConfig.ready), so every import points one way, from the app down to the leads."""

from __future__ import annotations

from typing import Callable

from leads.models import Lead

LeadListener = Callable[[Lead], None]
ManualListener = Callable[[Lead, str], None]

_changed: list[LeadListener] = []
_manual: list[ManualListener] = []


def on_lead_changed(listener: LeadListener) -> LeadListener:
    """Register `listener(lead)`: the lead moved on (status, a step's result); its card may show it."""
    if listener not in _changed:
        _changed.append(listener)
    return listener


def on_lead_manual(listener: ManualListener) -> ManualListener:
    """Register `listener(lead, reason)`: the lead needs a person now; somebody should be told."""
    if listener not in _manual:
        _manual.append(listener)
    return listener


def lead_changed(lead: Lead) -> None:
    for listener in _changed:
        listener(lead)


def lead_manual(lead: Lead, reason: str) -> None:
    for listener in _manual:
        listener(lead, reason)
