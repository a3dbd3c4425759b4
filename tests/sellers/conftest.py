from __future__ import annotations

from tests.leads.conftest import b24  # noqa: F401 (the fake Bitrix24 portal, as the leads' tests have it)
