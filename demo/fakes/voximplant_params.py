"""How the fake Management API reads parameters and pages lists, and its error, as the real one does.

References: the official clients' request types (`voximplant/apiclient-nodejs` src/Interfaces.ts: which
parameters are mutually exclusive or required, `count`/`offset` paging, `total_count`) and error codes
(src/Enums.ts: 101 "Invalid arguments").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import Any

DEFAULT_COUNT = 20  # the list methods' default `count` (docs: "Defaults on: 20")


class ApiError(Exception):
    def __init__(self, code: int, msg: str):
        super().__init__(msg)
        self.code, self.msg = code, msg


def invalid() -> ApiError:
    return ApiError(101, "Invalid arguments")


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


# --- parameter parsing: what the API refuses as invalid arguments ---------------------------------------------

def int_param(params: Mapping[str, str], name: str, *, required: bool = False) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise invalid()
        return None
    if not re.fullmatch(r"\d{1,18}", raw):
        raise invalid()
    return int(raw)


def bool_param(params: Mapping[str, str], name: str, default: bool | None) -> bool | None:
    # apiclient-python 2.x sends Python's "True"/"False", the Node client "true"/"false": both are read.
    raw = params.get(name)
    if raw is None:
        return default
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise invalid()


def one_of(params: Mapping[str, str], *names: str, required: bool = True) -> str | None:
    """The one parameter given of a mutually exclusive pair (the clients refuse both, and none when required)."""
    given = [name for name in names if params.get(name) not in (None, "")]
    if len(given) > 1 or (required and not given):
        raise invalid()
    return given[0] if given else None


def list_param(params: Mapping[str, str], name: str) -> list[str]:
    return [item for item in (params.get(name) or "").split(";") if item != ""]


def page(items: list[Any], params: Mapping[str, str], shape: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    count = int_param(params, "count")
    offset = int_param(params, "offset") or 0
    chunk = items[offset:offset + (DEFAULT_COUNT if count is None else count)]
    return {"result": [shape(item) for item in chunk], "total_count": len(items), "count": len(chunk)}
