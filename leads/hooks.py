"""What a change to a lead sets off in the apps above leads/ (the seller's Telegram card, the
manual-handling alert, their edits when a person takes the lead; an alert about a site, such as its
dialling ceiling), without leads/ or telephony/ importing them: those apps register here when Django
starts (their AppConfig.ready), so every import points one way, from the app down to the leads."""

from __future__ import annotations

from typing import Callable

from leads.models import Lead, Site

LeadListener = Callable[[Lead], None]
ManualListener = Callable[[Lead, str], None]
ResendListener = Callable[[Lead], bool]
ServiceAlertListener = Callable[[str, Site | None], None]

_changed: list[LeadListener] = []
_manual: list[ManualListener] = []
_taken: list[LeadListener] = []
_resend: list[ResendListener] = []
_service_alert: list[ServiceAlertListener] = []


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


def on_lead_taken(listener: LeadListener) -> LeadListener:
    """Register `listener(lead)`: a person took the lead or closed it; nobody else should pick it up."""
    if listener not in _taken:
        _taken.append(listener)
    return listener


def on_resend_asked(listener: ResendListener) -> ResendListener:
    """Register `listener(lead) -> bool`: a person asks for the lead's messages to go out again (the chat
    was repaired); True when there was something to send."""
    if listener not in _resend:
        _resend.append(listener)
    return listener


def on_service_alert(listener: ServiceAlertListener) -> ServiceAlertListener:
    """Register `listener(text, site)`: something about the service (not one lead) needs a person, e.g. a
    site reached its dialling ceiling."""
    if listener not in _service_alert:
        _service_alert.append(listener)
    return listener


def lead_changed(lead: Lead) -> None:
    for listener in _changed:
        listener(lead)


def lead_manual(lead: Lead, reason: str) -> None:
    for listener in _manual:
        listener(lead, reason)


def lead_taken(lead: Lead) -> None:
    for listener in _taken:
        listener(lead)


def resend_asked(lead: Lead) -> bool:
    return any([listener(lead) for listener in _resend])  # a list: every listener is asked


def service_alert(text: str, site: Site | None = None) -> None:
    for listener in _service_alert:
        listener(text, site)
