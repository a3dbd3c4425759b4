"""The SMS gateway interface. One module per gateway; `GATEWAYS` names them for `SMS_GATEWAY`.

To add a gateway: write `messaging/gateways/<name>.py` with a class that has `name`, `send()` and
`statuses()` as in `Gateway` below, turning the provider's errors into `GatewayError`; add it to
`GATEWAYS`; and give it a fake under demo/fakes/ that answers like the provider (docs/messages.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

GATEWAYS = {"voximplant": "messaging.gateways.voximplant.VoximplantSms"}


class GatewayError(Exception):
    """The gateway did not take the message. `retryable`: it may later; else a person must look (the message
    says why: a rejected sender, a number it cannot reach, no balance, bad credentials). `maybe_sent`: the
    answer was lost, the message may have gone (look before sending again)."""

    def __init__(self, message: str, *, retryable: bool, maybe_sent: bool = False):
        super().__init__(message)
        self.retryable, self.maybe_sent = retryable, maybe_sent


@dataclass(frozen=True)
class Sent:
    provider_id: str
    fragments: int


@dataclass(frozen=True)
class Delivery:
    state: str  # "delivered", "undelivered" or "pending"
    provider_status: str  # the provider's own word for it
    detail: str = ""


@dataclass(frozen=True)
class Outgoing:
    """What `statuses()` needs of a sent message."""

    provider_id: str
    phone: str
    sent_at: object  # datetime


class Gateway(Protocol):
    name: str

    def send(self, *, sender: str, phone: str, text: str) -> Sent: ...

    def find_sent(self, *, phone: str, text: str, since: object) -> Sent | None:
        """A message to `phone` with `text` sent since then (after an answer was lost), or None."""

    def statuses(self, messages: list[Outgoing]) -> dict[str, Delivery]: ...


def gateway_from_settings() -> Gateway | None:
    """The configured gateway, or None when messages are off (`SMS_GATEWAY=off`) or it has no credentials."""
    name = settings.SMS_GATEWAY
    if name == "off":
        return None
    return import_string(GATEWAYS[name]).from_settings()
