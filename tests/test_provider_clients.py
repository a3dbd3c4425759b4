"""The provider clients are kept per thread and settings (leadcaller/http.py), so their connections stay open."""

from __future__ import annotations

import threading

import pytest

from leads import bitrix
from notifications import telegram

CLIENTS = {  # module, the setting that turns it on, and a second value for it
    "telegram": (telegram, "TELEGRAM_BOT_TOKEN", "123:abc", "456:def"),
    "bitrix": (bitrix, "BITRIX_WEBHOOK_URL", "https://a.bitrix24.ru/rest/1/x/", "https://b.bitrix24.ru/rest/1/y/"),
}


@pytest.mark.parametrize("name", CLIENTS)
def test_a_thread_keeps_its_client_until_the_settings_change(name, settings):
    module, setting, first_value, second_value = CLIENTS[name]
    setattr(settings, setting, first_value)
    first = module.client_from_settings()

    assert module.client_from_settings() is first
    elsewhere: list = []
    thread = threading.Thread(target=lambda: elsewhere.append(module.client_from_settings()))
    thread.start()
    thread.join()
    assert elsewhere[0] is not first and type(elsewhere[0]) is type(first)

    setattr(settings, setting, second_value)
    assert module.client_from_settings() is not first
    setattr(settings, setting, "")
    if name == "bitrix":
        settings.BITRIX_PORTAL_URL = ""
    assert module.client_from_settings() is None
