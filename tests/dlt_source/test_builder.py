"""The compile step, offline: spec resource + window + keys -> dlt's `rest_api` config (no request,
no dlt resource run), as dlt tests its own config step; and the row steps and cursor parsing."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import pytest
from dlt.common.jsonpath import compile_path

from analytics_provider.config.loader import load_spec
from analytics_provider.config.model import PaginatorSpec
from analytics_provider.dlt_source.builder import compile_source
from analytics_provider.dlt_source.incremental import cursor_parser, incremental_config, stored_cursors
from analytics_provider.dlt_source.paginators import GuardedCursorPaginator, create_paginator
from analytics_provider.dlt_source.row_steps import KEYS_RESOURCE, carry_from_parent, project_fields
from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.exceptions import AnalyticsApiError

SPEC = load_spec()
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
END = datetime(2026, 11, 2, tzinfo=timezone.utc)


def _hook(*_: Any) -> None:
    return None


def _compile(name: str, window: LoadWindow | None = None, **kwargs: Any) -> Any:
    return compile_source(
        SPEC.client,
        SPEC.resource(name),
        base_url="http://api.test",
        session=None,
        window=window or LoadWindow(None, None, "scheduled"),
        hook=_hook,
        **kwargs,
    )


def test_a_root_is_one_rest_resource_with_the_spec_settings() -> None:
    compiled = _compile("self_collaborations")
    (entry,) = compiled.config["resources"]
    assert compiled.config["client"] == {
        "base_url": "http://api.test",
        "headers": {"Accept": "application/json"},
        "session": None,
    }
    assert entry["name"] == entry["table_name"] == "self_collaborations"
    assert entry["endpoint"]["path"] == "/v2/me/collaborations" and entry["endpoint"]["response_actions"] == [_hook]
    assert entry["primary_key"] == ["id"] and entry["write_disposition"] == "merge"
    assert "incremental" not in entry["endpoint"] and compiled.per_key == {}


def test_an_incremental_child_is_one_resource_per_key_with_its_own_cursor_name() -> None:
    keys = [{"org_slug": "gh/acme"}, {"org_slug": "circleci/9f3c"}]
    window = LoadWindow(START, END, "params")
    compiled = _compile("pipelines", window, parent_keys=keys, cursors={"pipelines__gh_acme"})
    names = [e["name"] for e in compiled.config["resources"]]
    assert names == ["pipelines__gh_acme", "pipelines__circleci_9f3c"]
    assert compiled.per_key == dict(zip(names, keys, strict=True))
    first = compiled.config["resources"][0]["endpoint"]
    assert first["params"]["org-slug"] == "gh/acme"
    inc = SPEC.resource("pipelines").incremental
    assert first["incremental"]["initial_value"] == START - inc.lookback and first["incremental"]["end_value"] == END


def test_another_child_is_a_keys_resource_and_a_parallel_dependent() -> None:
    keys = [{"project_slug": "gh/acme/api", "job_number": 7}]
    compiled = _compile("jobs", parent_keys=keys)
    keys_resource, entry = compiled.config["resources"]
    assert keys_resource.name == KEYS_RESOURCE and list(keys_resource) == keys
    assert entry["endpoint"]["path"] == f"/v2/project/{{resources.{KEYS_RESOURCE}.project_slug}}/job/" + (
        f"{{resources.{KEYS_RESOURCE}.job_number}}"
    )
    assert entry["parallelized"] is True and set(entry["include_from_parent"]) == set(SPEC.resource("jobs").carry)


def test_v3_projects_compile_to_page_cursor_paging() -> None:
    compiled = compile_source(
        SPEC.client,
        SPEC.resource("projects").for_api("v3"),
        base_url="http://api.test",
        session=None,
        window=LoadWindow(None, None, "scheduled"),
        hook=_hook,
        parent_keys=[{"org_id": "o-1"}],
    )
    entry = compiled.config["resources"][1]
    assert entry["endpoint"]["params"] == {
        "filter[org_id]": f"{{resources.{KEYS_RESOURCE}.org_id}}",
        "page[limit]": "100",
    }
    paginator = entry["endpoint"]["paginator"]
    assert isinstance(paginator, GuardedCursorPaginator) and paginator.cursor_param == "page[cursor]"


def test_the_stored_cursor_replaces_the_window_start_on_a_scheduled_run() -> None:
    resource = SPEC.resource("pipelines")
    state = {"sources": {"analytics_pipelines": {"resources": {"pipelines__gh_acme": {"incremental": {
        "created_at": {"last_value": "2026-11-01T00:00:00Z"}}}, "pipelines__other": {}}}}}  # fmt: skip
    assert stored_cursors(state, "analytics_pipelines", resource) == {"pipelines__gh_acme"}
    config = incremental_config(resource, LoadWindow(START, None, "scheduled"), has_cursor=True)
    assert "initial_value" not in config and config["lag"] == resource.incremental.lookback.total_seconds()
    assert incremental_config(resource, LoadWindow(START, None, "scheduled"), False)["initial_value"] == START


def test_the_cursor_of_every_record_is_parsed_before_dlt_sees_the_page() -> None:
    body = {"items": [{"created_at": "2026-11-01T10:00:00Z"}, {"created_at": "2026-11-01T10:00:00.250Z"}]}
    cursor_parser(compile_path("items"), "created_at")(body)
    assert [r["created_at"] for r in body["items"]] == [
        datetime(2026, 11, 1, 10, tzinfo=timezone.utc),
        datetime(2026, 11, 1, 10, 0, 0, 250000, tzinfo=timezone.utc),
    ]


def test_fields_project_a_v3_entity_and_keep_the_carried_parent_values() -> None:
    project = project_fields({"name": "attributes.name", "org": "references.organization.id", "gone": "attributes.x.y"})
    row = {
        "id": "p",
        "attributes": {"name": "api"},
        "references": {"organization": {"id": "o"}},
        f"_{KEYS_RESOURCE}_org_id": "o",
    }
    assert project(row) == {"name": "api", "org": "o", "gone": None, f"_{KEYS_RESOURCE}_org_id": "o"}
    assert carry_from_parent(SPEC.resource("jobs"))({f"_{KEYS_RESOURCE}_project_slug": "gh/a/b"}) == {
        "project_slug": "gh/a/b"
    }


def test_the_cursor_paginator_refuses_a_token_it_already_returned() -> None:
    from requests import Request, Response

    paginator = create_paginator(PaginatorSpec())
    assert isinstance(paginator, GuardedCursorPaginator)

    def page(token: str) -> Response:
        response = Response()
        response.status_code = 200
        response._content = json.dumps({"items": [], "next_page_token": token}).encode()
        response.request = Request("GET", "http://api.test/v2/pipeline").prepare()
        return response

    paginator.update_state(page("a"))
    paginator.update_state(page("b"))
    with pytest.raises(AnalyticsApiError, match="already returned before"):
        paginator.update_state(page("a"))
    assert create_paginator(PaginatorSpec(type="single_page")).__class__.__name__ == "SinglePagePaginator"
