"""SMS through VoxImplant's A2P messaging (the account's SenderID), over the Management API client.

- A2PSendSms (voximplant.com/docs/guides/sms/sending; /docs/references/httpapi/sms#a2psendsms): `src_number`
  (the SenderID VoxImplant support installed), `dst_numbers` (`;`-separated), `text` (up to 1600 characters).
  Answers `result[]` (`transaction_id`, `destination_number`), `fragments_count`, and `failed[]`
  (`destination_number`, `error_code`, `error_description`, e.g. 385 "SMS failed to send.") for destinations
  it refused. Not idempotent: an answer lost in transit is looked up in the history before sending again.
- A2PGetSmsHistory (/docs/references/httpapi/sms#a2pgetsmshistory): records with `transaction_id` and
  `delivery_status` QUEUED, DISPATCHED, ABORTED, REJECTED, DELIVERED, FAILED, EXPIRED or UNKNOWN.
- Errors come in the API's envelope (telephony/voximplant.py): 100 authorization, 101 invalid arguments (a
  sender the account has not got), 5 billing (no balance) are for a person; the rest is retried.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils.translation import gettext as _

from messaging.gateways import Delivery, GatewayError, Outgoing, Sent
from telephony import voximplant

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
DELIVERED = {"DELIVERED"}
UNDELIVERED = {"ABORTED", "REJECTED", "FAILED", "EXPIRED"}
# Error codes (apiclient-nodejs src/Enums.ts) that need a person, with what to tell them.
REASONS = {100: "VoxImplant refused the credentials (or their role may not send SMS)",
           5: "VoxImplant could not bill the message",
           127: "VoxImplant: the account's balance is too low",
           101: "VoxImplant refused the request (is the sender a SenderID installed for the account?)",
           386: "VoxImplant: SMS is not enabled for the sender (is it a SenderID installed for the account?)",
           385: "VoxImplant could not send the message"}


def _digits(phone: str) -> str:
    return "".join(ch for ch in phone if ch.isdigit())


class VoximplantSms:
    name = "voximplant"

    def __init__(self, client: voximplant.VoximplantClient):
        self.client = client

    @classmethod
    def from_settings(cls) -> VoximplantSms | None:
        client = voximplant.client_from_settings()
        return cls(client) if client else None

    def send(self, *, sender: str, phone: str, text: str) -> Sent:
        body = self._call("A2PSendSms", {"src_number": sender, "dst_numbers": _digits(phone), "text": text})
        for failed in body.get("failed") or []:
            raise GatewayError(_("VoxImplant did not send to %(phone)s: %(error)s (code %(code)s)") % {
                "phone": phone, "error": failed.get("error_description") or "?", "code": failed.get("error_code")},
                retryable=False)
        sent = next((r for r in body.get("result") or [] if r.get("transaction_id")), None)
        if sent is None:
            raise GatewayError(_("A2PSendSms answered without a transaction: %(body)s") % {"body": str(body)[:200]},
                               retryable=True, maybe_sent=True)
        return Sent(str(sent["transaction_id"]), int(body.get("fragments_count") or 1))

    def find_sent(self, *, phone: str, text: str, since: datetime) -> Sent | None:
        for record in self._history(phone, since):
            if record.get("text") == text and record.get("transaction_id"):
                return Sent(str(record["transaction_id"]), int(record.get("fragments") or 1))
        return None

    def statuses(self, messages: list[Outgoing]) -> dict[str, Delivery]:
        found: dict[str, Delivery] = {}
        for message in messages:
            for record in self._history(message.phone, message.sent_at):
                if str(record.get("transaction_id")) == message.provider_id:
                    found[message.provider_id] = _delivery(record)
        return found

    def _history(self, phone: str, since: datetime) -> list[dict]:
        start = (since - timedelta(minutes=1)).astimezone(UTC)
        body = self._call("A2PGetSmsHistory", {"destination_number": _digits(phone), "count": 100,
                                               "from_date": start.strftime(DATE_FORMAT),
                                               "to_date": (datetime.now(UTC) + timedelta(minutes=1)).strftime(DATE_FORMAT)})
        result = body.get("result")
        if not isinstance(result, list):
            raise GatewayError(_("A2PGetSmsHistory answered without a result list"), retryable=True)
        return result

    def _call(self, cmd: str, params: dict) -> dict:
        try:
            return self.client.call(cmd, params)
        except voximplant.VoximplantError as exc:
            reason = REASONS.get(exc.code) if exc.code is not None else None
            message = f"{_(reason)}: {exc}" if reason else str(exc)
            raise GatewayError(message[:300], retryable=exc.retryable and reason is None,
                               maybe_sent=exc.maybe_started) from exc


def _delivery(record: dict) -> Delivery:
    status = str(record.get("delivery_status") or "UNKNOWN").upper()
    state = "delivered" if status in DELIVERED else "undelivered" if status in UNDELIVERED else "pending"
    return Delivery(state, status, str(record.get("error_message") or ""))
