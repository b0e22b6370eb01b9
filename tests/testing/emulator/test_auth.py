"""API keys, and v1.1's EDN default."""

from __future__ import annotations

import json

import pytest
import requests

from analytics_provider.testing.emulator import Emulator

from .conftest import KEY, Client, make_emulator

pytestmark = pytest.mark.integration

PATHS = ["/v2/me", "/v2/pipeline?org-slug=gh/x", "/v1.1/projects", "/v2/workflow/x/job", "/v2/nowhere"]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("headers", [{}, {"api_key": "wrong"}, {"Circle-Token": "wrong"}])
def test_missing_or_wrong_key_is_401(shared_emu: Emulator, path: str, headers: dict[str, str]) -> None:
    r = requests.get(shared_emu.base_url + path, headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.json() == {"message": "You must log in first."}


@pytest.mark.parametrize(
    ("headers", "params"),
    [
        ({"api_key": KEY}, {}),
        ({"API_KEY": KEY}, {}),
        ({"Circle-Token": KEY}, {}),
        ({"Authorization": f"Bearer {KEY}"}, {}),
        ({}, {"api_key": KEY}),
        ({}, {"circle-token": KEY}),
    ],
)
def test_key_accepted_in_header_or_query(shared_emu: Emulator, headers: dict, params: dict) -> None:
    r = requests.get(shared_emu.base_url + "/v2/me", headers=headers, params=params, timeout=10)
    assert r.status_code == 200, r.text


def test_auth_header_name_is_configurable() -> None:
    with make_emulator(auth_header="X-Analytics-Key") as emu:
        url = emu.base_url + "/v2/me"
        assert requests.get(url, headers={"X-Analytics-Key": KEY}, timeout=10).status_code == 200
        assert requests.get(url, params={"X-Analytics-Key": KEY}, timeout=10).status_code == 200
        assert requests.get(url, headers={"api_key": KEY}, timeout=10).status_code == 401
        assert requests.get(url, headers={"Circle-Token": KEY}, timeout=10).status_code == 200


def test_control_api_needs_no_key(shared_emu: Emulator) -> None:
    assert requests.get(shared_emu.base_url + "/_emulator/health", timeout=10).json()["status"] == "ok"


@pytest.mark.parametrize("path", ["/v1.1/me", "/v1.1/projects"])
def test_v11_is_edn_unless_json_is_accepted(client: Client, path: str) -> None:
    edn = client.get(path)
    assert edn.status_code == 200
    assert edn.headers["Content-Type"].startswith("application/edn")
    with pytest.raises(json.JSONDecodeError):
        json.loads(edn.text)
    r = client.s.get(client.emu.base_url + path, headers={"Accept": "application/json"}, timeout=10)
    assert r.headers["Content-Type"] == "application/json"
    expected = client.emu.truth("me")[0] if path == "/v1.1/me" else client.emu.truth("projects")
    assert r.json() == expected


def test_v11_maps_keyed_by_data(client: Client) -> None:
    me = client.emu.truth("me")[0]
    projects = client.emu.truth("projects")
    assert set(me["projects"]) == {p["vcs_url"] for p in projects}
    # from 7 Dec 2026 v1.1 `projects` serves no `branches` (the emulator's default)
    assert all("branches" not in p for p in projects)


def test_v11_projects_before_7_dec_2026_keyed_branches() -> None:
    emu = make_emulator(v11_branches=True)
    try:
        me, projects = emu.truth("me")[0], emu.truth("projects")
    finally:
        emu.stop()
    assert set(me["projects"]) == {p["vcs_url"] for p in projects}
    branches = {b for p in projects for b in p["branches"]}
    assert "feature/ünïcode-λ" in branches and "feature/ünïcode-μ" in branches
    for p in projects:
        assert p["default_branch"] in p["branches"]
        assert all("recent_builds" in b for b in p["branches"].values())
