"""The emulator's API v3: `/v3/projects` in its documented shape, Bearer auth only, scope filter and
`page[limit]` bounds as 400s, opaque cursors both ways, standard rate-limit headers, Server mode."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest
import requests
from jsonschema import Draft7Validator, FormatChecker

from analytics_provider.testing.emulator import Emulator

from .conftest import KEY, make_emulator

pytestmark = pytest.mark.integration
BEARER = {"Authorization": f"Bearer {KEY}"}


def _schema(name: str) -> Draft7Validator:
    ref = resources.files("analytics_provider.testing.emulator") / "schemas" / "api-v3-served.json"
    doc = json.loads(ref.read_text(encoding="utf-8"))
    schema = doc["operations"]["GET /v3/projects"]["response"] if name == "list" else doc["definitions"][name]
    return Draft7Validator({**schema, "definitions": doc["definitions"]}, format_checker=FormatChecker(["uuid"]))


def _get(emu: Emulator, params: dict[str, Any], headers: dict[str, str] = BEARER) -> requests.Response:
    return requests.get(f"{emu.base_url}/v3/projects", params=params, headers=headers, timeout=10)


def _orgs(emu: Emulator) -> list[dict[str, Any]]:
    return emu.truth("self_collaborations")


def test_projects_of_each_org_in_the_documented_shape(shared_emu: Emulator) -> None:
    seen = []
    for org in _orgs(shared_emu):
        r = _get(shared_emu, {"filter[org_id]": org["id"], "page[limit]": 100})
        assert r.status_code == 200, r.text
        body = r.json()
        errors = sorted(_schema("list").iter_errors(body), key=str)
        assert not errors, errors[:3]
        assert body["page"] == {"next": None, "prev": None}
        assert body["data"] and all(p["references"]["organization"]["id"] == org["id"] for p in body["data"])
        assert all(p["references"]["organization"]["attributes"]["slug"] == org["slug"] for p in body["data"])
        seen += body["data"]
    assert sorted(seen, key=lambda p: p["id"]) == sorted(shared_emu.truth("projects_v3"), key=lambda p: p["id"])
    # the same projects, by VCS URL, as v1.1 lists them: a table keyed on it keeps one row each
    v11 = {p["vcs_url"]: p for p in shared_emu.truth("projects")}
    assert {p["attributes"]["vcs_url"] for p in seen} == set(v11)
    for p in seen:
        assert p["attributes"]["name"] == v11[p["attributes"]["vcs_url"]]["reponame"]


def test_cursor_pages_forwards_and_back(shared_emu: Emulator) -> None:
    org = max(
        _orgs(shared_emu),
        key=lambda o: sum(
            1 for p in shared_emu.truth("projects_v3") if p["references"]["organization"]["id"] == o["id"]
        ),
    )
    pages, params = [], {"filter[org_id]": org["id"], "page[limit]": 2}
    while True:
        body = _get(shared_emu, params).json()
        pages.append(body)
        if body["page"]["next"] is None:
            break
        params = {**params, "page[cursor]": body["page"]["next"]}
    ids = [p["id"] for page in pages for p in page["data"]]
    assert len(pages) > 1 and len(ids) == len(set(ids))
    assert pages[0]["page"]["prev"] is None
    back = _get(shared_emu, {**params, "page[cursor]": pages[1]["page"]["prev"]}).json()
    assert back["data"] == pages[0]["data"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({}, "filter[org_id]"),
        ({"page[limit]": 0}, "page[limit]"),
        ({"page[limit]": 101}, "page[limit]"),
        ({"page[limit]": "ten"}, "page[limit]"),
        ({"page[cursor]": "bm90LWEtY3Vyc29y"}, "page[cursor]"),
    ],
)
def test_bad_parameters_are_400_naming_them(shared_emu: Emulator, params: dict[str, Any], parameter: str) -> None:
    if parameter != "filter[org_id]":
        params = {"filter[org_id]": _orgs(shared_emu)[0]["id"], **params}
    r = _get(shared_emu, params)
    assert r.status_code == 400
    assert not list(_schema("error").iter_errors(r.json()))
    assert r.json()["errors"][0]["source"] == {"parameter": parameter}


@pytest.mark.parametrize(
    ("headers", "params"),
    [({"Circle-Token": KEY}, {}), ({"api_key": KEY}, {}), ({}, {"circle-token": KEY})],
)
def test_only_a_bearer_token_is_accepted(shared_emu: Emulator, headers: dict[str, str], params: dict[str, str]) -> None:
    r = _get(shared_emu, {"filter[org_id]": _orgs(shared_emu)[0]["id"], **params}, headers=headers)
    assert r.status_code == 401
    assert "Authorization: Bearer" in r.json()["errors"][0]["detail"]
    # the same key in the same place is fine on v2
    assert requests.get(f"{shared_emu.base_url}/v2/me", headers=headers, params=params, timeout=10).ok


def test_standard_rate_limit_headers_only() -> None:
    emu = make_emulator(rate_limit=50)
    try:
        v3 = _get(emu, {"filter[org_id]": _orgs(emu)[0]["id"]})
        v2 = requests.get(f"{emu.base_url}/v2/me", headers=BEARER, timeout=10)
    finally:
        emu.stop()
    assert {"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= set(v3.headers)
    assert not any(h.startswith("X-RateLimit") for h in v3.headers)
    assert "X-RateLimit-Remaining" in v2.headers


def test_server_mode_serves_no_v3() -> None:
    emu = make_emulator(server=True)
    try:
        assert _get(emu, {"filter[org_id]": _orgs(emu)[0]["id"]}).status_code == 404
        assert requests.get(f"{emu.base_url}/v1.1/projects", headers={"Circle-Token": KEY}, timeout=10).ok
    finally:
        emu.stop()
