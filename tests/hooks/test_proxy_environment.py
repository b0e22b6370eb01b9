"""The hook's session reads the proxy environment once, and still honours it: through a real
forwarding proxy on 127.0.0.1 to the emulator."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from analytics_provider.hooks.analytics_api import AnalyticsApiHook

pytestmark = pytest.mark.integration


class _Forward(BaseHTTPRequestHandler):
    """A plain HTTP proxy: the request line holds the absolute URL; forward it, count it."""

    seen: list[str] = []

    def do_GET(self) -> None:
        self.seen.append(self.path)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection")}
        try:
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # not through itself
            with direct.open(urllib.request.Request(self.path, headers=headers), timeout=10) as upstream:
                status, body, kind = upstream.status, upstream.read(), upstream.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, body, kind = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    _Forward.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Forward)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Forward.seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_requests_go_through_the_proxy_the_environment_names(
    emulator: Any, api_connection: str, proxy: tuple[str, list[str]], clean_proxy_env: pytest.MonkeyPatch
) -> None:
    url, seen = proxy
    clean_proxy_env.setenv("HTTP_PROXY", url)
    ok, message = AnalyticsApiHook(api_connection).test_connection()
    assert ok, message
    assert seen and all(s.startswith(emulator.base_url) for s in seen), seen
    # read once: the session no longer scans the environment on every request
    session = AnalyticsApiHook(api_connection).get_conn()
    assert session.trust_env is False and session.proxies.get("http") == url


def test_no_proxy_still_bypasses_it(
    emulator: Any, api_connection: str, proxy: tuple[str, list[str]], clean_proxy_env: pytest.MonkeyPatch
) -> None:
    url, seen = proxy
    clean_proxy_env.setenv("HTTP_PROXY", url)
    clean_proxy_env.setenv("NO_PROXY", "127.0.0.1,localhost")
    ok, message = AnalyticsApiHook(api_connection).test_connection()
    assert ok, message
    assert seen == []
