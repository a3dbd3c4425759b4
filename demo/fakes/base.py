"""What every local fake shares: an HTTP server in a background thread, started and stopped by the
test (or a `with` block), and a way to wait for what the code under test makes it see."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: Any


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection, so a `drop` fault really closes it

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)


class LocalHttpFake:
    """Subclasses set `name`, `host`, `port`, `verbose` and implement `_handle(handler)`."""

    name = "fake"
    host: str
    port: int
    verbose: bool
    _server: _Server | None = None
    _serve_thread: threading.Thread | None = None

    def __init__(self) -> None:
        self._stopping = threading.Event()  # wakes the fake's own sleeps (held answers, simulators)

    def start(self):
        self._stopping.clear()
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self.port = self._server.server_address[1]
        self._serve_thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                              name=f"{self.name}:{self.port}", daemon=True)
        self._serve_thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> Any:
        """Poll until ``predicate()`` is truthy and return it; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(interval)
