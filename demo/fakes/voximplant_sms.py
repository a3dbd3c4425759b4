"""The A2P messaging of one fake VoxImplant account: A2PSendSms and A2PGetSmsHistory, as strict as the vendor.

References, named beside each behaviour:
  [guide]  voximplant.com/docs/guides/sms/sending ("How to send an SMS"): parameters, the answer's shape,
           `failed[]` with error 385 "SMS failed to send.", 1600 characters, 160 GSM-7 / 70 UTF-16 per part.
  [enums]  voximplant/apiclient-nodejs src/Enums.ts (APIErrorCode): 101 invalid arguments, 127 insufficient
           money, 385 sending SMS error, 386 SMS disabled for number.
  [types]  the official clients' A2PGetSmsHistory request and A2PSmsHistoryType (apiclient-go, apiclient-dotnet):
           filters, `count` at most 1000, dates `yyyy-MM-dd HH:mm:ss`, the record's fields, delivery statuses.
Which error a sender the account has not got, or an empty balance, answers with is not documented; the
closest documented code is used and marked "code unconfirmed".
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from demo.fakes.voximplant_params import ApiError, invalid

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
MAX_TEXT = 1600  # [guide]
# [types] delivery_status filter ids and names.
DELIVERY_STATUSES = {1: "QUEUED", 2: "DISPATCHED", 3: "ABORTED", 4: "REJECTED", 5: "DELIVERED", 6: "FAILED",
                     7: "EXPIRED", 8: "UNKNOWN"}
GSM7 = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
           "¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€")


def fragments(text: str) -> int:
    """[guide] over 160 GSM-7 or 70 UTF-16 characters a message goes in parts (153 / 67 per part, the usual UDH)."""
    gsm = all(ch in GSM7 for ch in text)
    single, part = (160, 153) if gsm else (70, 67)
    return 1 if len(text) <= single else -(-len(text) // part)


@dataclass
class SmsRecord:
    """One A2P message, as A2PGetSmsHistory lists it ([types] A2PSmsHistoryType)."""

    message_id: int
    transaction_id: int
    source_number: str
    destination_number: str
    text: str
    fragments: int
    cost: float
    processing_date: datetime
    delivery_status: str = "QUEUED"
    error_message: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "transaction_id": self.transaction_id,
                "source_number": int(self.source_number) if self.source_number.isdigit() else self.source_number,
                "destination_number": int(self.destination_number), "fragments": self.fragments, "cost": self.cost,
                "status_id": "1", "error_message": self.error_message,
                "processing_date": self.processing_date.strftime(DATE_FORMAT),
                "delivery_status": self.delivery_status, "text": self.text}


@dataclass
class SmsCenter:
    """Senders installed by support, the balance, what was sent, and what the network will report."""

    senders: set[str] = field(default_factory=lambda: {"LEADCALLER"})
    balance: float = 100.0
    price: float = 0.05  # per part
    unreachable: set[str] = field(default_factory=set)  # destinations the network refuses (failed[] 385)
    outcome: dict[str, str] = field(default_factory=dict)  # destination -> final delivery status (default DELIVERED)
    records: list[SmsRecord] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(3_996_474))

    def send(self, params: Mapping[str, str]) -> dict[str, Any]:
        """A2PSendSms [guide]: src_number, dst_numbers (`;`-separated), text; all three required."""
        src, dst, text = params.get("src_number", ""), params.get("dst_numbers", ""), params.get("text", "")
        if not src or not dst or not text or len(text) > MAX_TEXT:
            raise invalid()
        if src not in self.senders:  # the SenderID is installed by support [guide]; code unconfirmed: 386 [enums]
            raise ApiError(386, "SMS disabled for number")
        destinations = [d.strip() for d in dst.split(";") if d.strip()]
        parts = fragments(text)
        if self.balance < parts * self.price * len(destinations):  # code unconfirmed: 127 [enums]
            raise ApiError(127, "Insufficient money")
        result, failed = [], []
        for number in destinations:
            if not re.fullmatch(r"\d{10,15}", number) or number in self.unreachable:
                failed.append({"destination_number": number, "error_description": "SMS failed to send.",
                               "error_code": 385})
                continue
            self.balance -= parts * self.price
            transaction_id = next(self._ids)
            self.records.append(SmsRecord(
                message_id=transaction_id + 10_000, transaction_id=transaction_id, source_number=src,
                destination_number=number, text=text, fragments=parts, cost=round(parts * self.price, 4),
                processing_date=datetime.now(timezone.utc).replace(microsecond=0)))
            result.append({"transaction_id": transaction_id, "destination_number": number})
        return {"result": result, "fragments_count": parts, "failed": failed}

    def history(self, params: Mapping[str, str]) -> dict[str, Any]:
        """A2PGetSmsHistory [types]: optional filters; count at most 1000 (default 1000)."""
        try:
            count = int(params.get("count") or 1000)
            offset = int(params.get("offset") or 0)
            since = _date(params.get("from_date"))
            until = _date(params.get("to_date"))
            wanted = int(params["delivery_status"]) if params.get("delivery_status") else None
        except ValueError:
            raise invalid() from None
        if not 0 < count <= 1000 or offset < 0 or (wanted is not None and wanted not in DELIVERY_STATUSES):
            raise invalid()
        self._settle()
        found = [r for r in self.records
                 if (not params.get("source_number") or r.source_number == params["source_number"])
                 and (not params.get("destination_number") or r.destination_number == params["destination_number"])
                 and (since is None or r.processing_date >= since) and (until is None or r.processing_date <= until)
                 and (wanted is None or r.delivery_status == DELIVERY_STATUSES[wanted])]
        return {"result": [r.as_json() for r in found[offset:offset + count]], "total_count": len(found)}

    def _settle(self) -> None:
        """The network reports back: a queued message gets its final status when next looked at."""
        for record in self.records:
            if record.delivery_status == "QUEUED":
                record.delivery_status = self.outcome.get(record.destination_number, "DELIVERED")
                if record.delivery_status != "DELIVERED":
                    record.error_message = "Message was not delivered"


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=timezone.utc)
