"""The VoxEngine scenario as it is in this checkout: its source and the version it declares.

The version line in `voxengine/leadcaller.js` is the one place the number lives; the server sends it
to the scenario as the version it expects, and `voximplant_setup` uploads this exact source.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

SCENARIO_PATH = Path(__file__).resolve().parent / "voxengine" / "leadcaller.js"
_VERSION_LINE = re.compile(r"^\s*var SCENARIO_VERSION = (\d+);", re.MULTILINE)


def scenario_source() -> str:
    return SCENARIO_PATH.read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def scenario_version() -> int:
    """The version the scenario in this checkout declares."""
    match = _VERSION_LINE.search(scenario_source())
    if match is None:
        raise RuntimeError(f"{SCENARIO_PATH} declares no SCENARIO_VERSION")
    return int(match.group(1))


def declared_version(source: str) -> int | None:
    """The SCENARIO_VERSION another copy of the scenario declares (one uploaded to VoxImplant), if any."""
    match = _VERSION_LINE.search(source or "")
    return int(match.group(1)) if match else None
