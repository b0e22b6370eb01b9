"""Walking every list to its end: complete, no duplicates, newest first, opaque tokens."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from analytics_provider.testing.emulator import Emulator
from analytics_provider.testing.emulator.pagination import PAGE_SIZE, PageTokenError, PageTokens, page_after

from .conftest import Client, make_emulator

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def month() -> Iterator[Emulator]:
    emu = make_emulator(days=30)
    yield emu
    emu.stop()


@pytest.fixture
def month_client(month: Emulator, http: requests.Session) -> Client:
    return Client(month, http)


def _org_truth(emu: Emulator, slug: str) -> list[dict]:
    return [p for p in emu.truth("pipelines") if p["project_slug"].startswith(slug + "/")]


def test_pipelines_walk_to_the_end_newest_first(month_client: Client) -> None:
    for org in month_client.json("/v2/me/collaborations"):
        pages = month_client.pages("/v2/pipeline", **{"org-slug": org["slug"]})
        items = [p for page in pages for p in page["items"]]
        assert all(len(page["items"]) == PAGE_SIZE for page in pages[:-1])
        assert 0 < len(pages[-1]["items"]) <= PAGE_SIZE
        ids = [p["id"] for p in items]
        assert len(ids) == len(set(ids))
        keys = [(p["created_at"], p["id"]) for p in items]
        assert keys == sorted(keys, reverse=True)
        assert ids == [p["id"] for p in _org_truth(month_client.emu, org["slug"])]
        assert len(items) > 200  # a month at scale 1
        for page in pages[:-1]:
            token = page["next_page_token"]
            assert all(p["id"] not in token and p["created_at"] not in token for p in page["items"])


def test_children_walk_equals_truth(client: Client) -> None:
    emu = client.emu
    workflows, jobs = [], []
    for p in emu.truth("pipelines"):
        r = client.get(f"/v2/pipeline/{p['id']}/workflow")
        if r.status_code == 404:
            continue
        for wf in client.items(f"/v2/pipeline/{p['id']}/workflow"):
            workflows.append(wf)
            jobs += [{**j, "workflow_id": wf["id"]} for j in client.items(f"/v2/workflow/{wf['id']}/job")]
    assert workflows == emu.truth("pipeline_workflows")
    assert jobs == emu.truth("workflow_jobs")
    created = [w["created_at"] for w in workflows if w["pipeline_id"] == workflows[0]["pipeline_id"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    "token",
    ["garbage", "%%%", "eyJ4IjoxfQ", base64.urlsafe_b64encode(b'["pipeline:x",[1,"a"]]|0000').decode()],
)
def test_unknown_token_is_400(client: Client, token: str) -> None:
    org = client.emu.truth("self_collaborations")[0]
    r = client.get("/v2/pipeline", **{"org-slug": org["slug"], "page-token": token})
    assert r.status_code == 400 and "message" in r.json()


def test_token_of_another_list_or_tampered_is_400(month_client: Client) -> None:
    orgs = month_client.json("/v2/me/collaborations")
    first = month_client.json("/v2/pipeline", **{"org-slug": orgs[0]["slug"]})
    token = first["next_page_token"]
    other = month_client.get("/v2/pipeline", **{"org-slug": orgs[1]["slug"], "page-token": token})
    assert other.status_code == 400
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert month_client.get("/v2/pipeline", **{"org-slug": orgs[0]["slug"], "page-token": tampered}).status_code == 400
    wf = month_client.emu.truth("workflow")[0]
    assert month_client.get(f"/v2/workflow/{wf['id']}/job", **{"page-token": token}).status_code == 400


def test_pages_stay_stable_while_new_pipelines_arrive(http: requests.Session) -> None:
    with make_emulator(days=10) as emu:
        _stable_while_new_arrive(Client(emu, http))


def _stable_while_new_arrive(fresh: Client) -> None:
    slug = max((o["slug"] for o in fresh.emu.truth("self_collaborations")), key=lambda s: len(_org_truth(fresh.emu, s)))
    before = [p["id"] for p in _org_truth(fresh.emu, slug)]
    first = fresh.json("/v2/pipeline", **{"org-slug": slug})
    assert first["next_page_token"] is not None
    assert fresh.emu.state.advance(180)["new_pipelines"] > 0
    rest = fresh.items("/v2/pipeline", **{"org-slug": slug, "page-token": first["next_page_token"]})
    assert [p["id"] for p in first["items"] + rest] == before
    assert fresh.items("/v2/pipeline", **{"org-slug": slug})[: len(before)] != before  # new ones on top


def test_page_after_cursor_semantics() -> None:
    items = [f"id{i}" for i in range(45)]
    pages, cursor = [], None
    while True:
        page, cursor = page_after(items, str, cursor)
        pages.append(page)
        if cursor is None:
            break
    assert [len(p) for p in pages] == [20, 20, 5]
    assert [i for page in pages for i in page] == items
    with pytest.raises(PageTokenError):
        page_after(items, str, "missing")
    tokens = PageTokens("s")
    assert tokens.decode("scope", tokens.encode("scope", "id3")) == "id3"
    with pytest.raises(PageTokenError):
        tokens.decode("other", tokens.encode("scope", "id3"))
    with pytest.raises(PageTokenError):
        PageTokens("t").decode("scope", tokens.encode("scope", "id3"))
