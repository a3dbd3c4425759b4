"""Only addresses a seller's phone can open become links in a card."""

from __future__ import annotations

import pytest

from notifications.links import public_url


@pytest.mark.parametrize("url", ["https://leads.example.com/admin/", "http://shop.ru", "https://8.8.8.8/x",
                                 "https://[2001:4860:4860::8888]/", "https://leads.example.com.:8443/"])
def test_public_http_addresses_may_be_linked(url):
    assert public_url(url)


@pytest.mark.parametrize("url", [
    "http://localhost:8000", "http://api.localhost/", "http://web:8000/", "http://127.0.0.1:8000",
    "http://10.0.0.5/", "http://172.16.3.4/", "http://192.168.1.20/", "http://169.254.1.1/", "http://[::1]/",
    "http://[fd00::1]/", "http://leads.local/", "http://leads.internal/", "http://nas.home.arpa/", "http://shop.test/",
    "ftp://files.example.com/", "tel:+79123456789", "https://", "http://x.example.com:99999/", "leads.example.com",
])
def test_local_private_or_non_web_addresses_are_not(url):
    assert not public_url(url)
