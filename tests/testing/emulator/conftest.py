"""Emulators over real HTTP for the emulator's own tests, and a page walker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from analytics_provider.testing.emulator import Emulator, EmulatorConfig

KEY = "emu-test-key"
NOW = "2026-11-20T12:00:00Z"


def make_emulator(**overrides: Any) -> Emulator:
    config = {"port": 0, "seed": 12, "days": 3, "now": NOW, "api_key": KEY, **overrides}
    return Emulator(EmulatorConfig(**config)).start()


@pytest.fixture(scope="module")
def shared_emu() -> Iterator[Emulator]:
    """A read-only emulator shared by a module's tests (3 days of history)."""
    emu = make_emulator()
    yield emu
    emu.stop()


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """A fresh emulator for tests that change it."""
    emu = make_emulator()
    yield emu
    emu.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.headers["api_key"] = KEY
        yield s


class Client:
    """Talks to one emulator over HTTP with the API key."""

    def __init__(self, emu: Emulator, session: requests.Session) -> None:
        self.emu = emu
        self.s = session

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.s.get(self.emu.base_url + path, params=params or None, timeout=30)

    def json(self, path: str, **params: Any) -> Any:
        r = self.get(path, **params)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        return r.json()

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of a paginated list (asserts 200 and a token that never repeats)."""
        pages: list[dict[str, Any]] = []
        seen: set[str] = set()
        token = None
        while True:
            query = dict(params, **({"page-token": token} if token else {}))
            page = self.json(path, **query)
            pages.append(page)
            token = page["next_page_token"]
            if token is None:
                return pages
            assert token not in seen, f"{path}: page token repeated"
            seen.add(token)

    def items(self, path: str, **params: Any) -> list[dict[str, Any]]:
        return [item for page in self.pages(path, **params) for item in page["items"]]


@pytest.fixture
def client(shared_emu: Emulator, http: requests.Session) -> Client:
    return Client(shared_emu, http)


@pytest.fixture
def fresh(emu: Emulator, http: requests.Session) -> Client:
    return Client(emu, http)
