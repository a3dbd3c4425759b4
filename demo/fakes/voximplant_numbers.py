"""The numbers a VoxImplant account may call from: rented phone numbers and verified caller IDs, as the
fake Management API keeps and lists them (GetPhoneNumbers, GetCallerIDs).

References: apiclient-nodejs src/Structures.ts (AttachedPhoneInfo, CallerIDInfo) and src/Interfaces.ts
(GetPhoneNumbersRequest, GetCallerIDsRequest); the phone numbers are bare digits with the country code
(examples/PhoneNumbers/isAccountPhoneNumber_1.js, examples/CallerIDs/getCallerIDs_2.js). VoxEngine's
callPSTN takes only these as caller IDs, never a test (sandbox) number (voxengine-ci typings/voxengine.d.ts).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date
from typing import Any

from demo.fakes.voximplant_params import bool_param, int_param, invalid, list_param, now, page


class AccountNumbers:
    """Mixed into the fake's Account; `_application` comes from it."""

    def __init__(self) -> None:
        self.phone_numbers: list[dict[str, Any]] = []
        self.caller_ids: list[dict[str, Any]] = []
        self._number_ids = itertools.count(70001)

    def rent_number(self, number: str, *, country_code: str = "RU", deactivated: bool = False,
                    canceled: bool = False, sandbox: bool = False) -> dict[str, Any]:
        """A phone number attached to the account (AttachedPhoneInfo); `sandbox`: a test number."""
        info = {"phone_id": next(self._number_ids), "phone_number": number, "phone_price": 1.0,
                "phone_country_code": country_code, "phone_next_renewal": date.today().isoformat(),
                "phone_purchase_date": now(), "deactivated": deactivated, "canceled": canceled,
                "auto_charge": True, "category_name": "GEOGRAPHIC", "can_be_used": True,
                "is_sms_supported": False, "is_sms_enabled": False, "emergency_calls_to_be_enabled": False,
                "emergency_calls_enabled": False, "subscription_id": next(self._number_ids), "modified": now(),
                "_sandbox": sandbox}
        self.phone_numbers.append(info)
        return info

    def add_caller_id(self, number: str, *, verified_until: date | None = None, active: bool = True) -> dict[str, Any]:
        """A caller ID of the account (CallerIDInfo); verified until `verified_until`, or not verified."""
        info: dict[str, Any] = {"callerid_id": next(self._number_ids), "callerid_number": number, "active": active}
        if verified_until is None:
            info.update(code_entering_attempts_left=5, verification_call_attempts_left=5)
        else:
            info["verified_until"] = verified_until.isoformat()
        self.caller_ids.append(info)
        return info

    def get_caller_ids(self, params: Mapping[str, str]) -> dict[str, Any]:
        wanted_id, number = int_param(params, "callerid_id"), params.get("callerid_number")
        active = bool_param(params, "active", None) if "active" in params else None
        found = [c for c in self.caller_ids if (wanted_id is None or c["callerid_id"] == wanted_id)
                 and (number is None or c["callerid_number"] == number)
                 and (active is None or c["active"] == active)]
        return page(found, params, dict)

    def get_phone_numbers(self, params: Mapping[str, str]) -> dict[str, Any]:
        app = self._application(params, required=False)
        numbers, ids = list_param(params, "phone_number"), list_param(params, "phone_id")
        sandbox = params.get("sandbox", "all")  # 'all', 'true' or 'false'
        if sandbox not in ("all", "true", "false") or not all(i.isdigit() for i in ids):
            raise invalid()
        flags = {name: bool_param(params, name, None) for name in ("deactivated", "canceled") if name in params}
        found = [p for p in self.phone_numbers
                 if (not numbers or p["phone_number"] in numbers) and (not ids or str(p["phone_id"]) in ids)
                 and (app is None or p.get("application_id") == app.id)
                 and (sandbox == "all" or p["_sandbox"] == (sandbox == "true"))
                 and all(p[name] == value for name, value in flags.items())]
        return page(found, params, lambda p: {k: v for k, v in p.items() if not k.startswith("_")})
