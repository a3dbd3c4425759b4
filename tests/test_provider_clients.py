"""The provider clients are kept per thread and settings (leadcaller/http.py), so their connections stay open."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from leadcaller.http import ProviderSession
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


class _Recorder(BaseHTTPRequestHandler):
    """Answers 200 and notes the request line: a proxy sees the absolute URL, a server only the path."""

    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).seen.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def recorder():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", _Recorder.seen
    server.shutdown()
    server.server_close()


def test_a_provider_session_goes_through_the_proxy_the_environment_names(recorder, monkeypatch):
    proxy, seen = recorder
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = ProviderSession()

    for _ in range(2):
        assert session.get("http://provider.invalid/api/x", timeout=5).text == "ok"

    assert seen == ["http://provider.invalid/api/x"] * 2


def test_a_provider_session_keeps_no_proxy_hosts_direct(recorder, monkeypatch):
    url, seen = recorder
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there: a request sent to it fails
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    assert ProviderSession().get(f"{url}/direct", timeout=5).text == "ok"
    assert seen == ["/direct"]


def test_a_provider_session_reads_the_environment_once_per_host(recorder, monkeypatch):
    url, seen = recorder
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    monkeypatch.delenv("http_proxy", raising=False)
    reads: list[str] = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda u, no_proxy=None: reads.append(u) or real(u, no_proxy))
    session = ProviderSession()

    for n in range(3):
        session.get(f"{url}/{n}", timeout=5)
    session.get(url.replace("127.0.0.1", "localhost") + "/other-host", timeout=5)

    assert len(seen) == 4 and len(reads) == 2
