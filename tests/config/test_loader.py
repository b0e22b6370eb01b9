"""The resource spec loader: the shipped spec, and every way a spec can be wrong."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics_provider.config.loader import DEFAULT_SPEC, load_spec, parse_duration, parse_spec
from analytics_provider.config.model import PaginatorSpec, Spec
from analytics_provider.exceptions import SpecError
from analytics_provider.fanout.bind import render

# --- the shipped spec -------------------------------------------------------------------------

# The seed's 12 resources and their merge keys. The one departure: `jobs` merges on
# (project_slug, number) because a job number is unique only inside one project.
SEED_PRIMARY_KEYS: dict[str, tuple[str, ...]] = {
    "context": ("id",),
    "self_ids": ("id",),
    "self_collaborations": ("id",),
    "me": ("analytics_id",),
    "projects": ("vcs_url",),
    "pipelines": ("id",),
    "specific_project": ("id",),
    "jobs": ("project_slug", "number"),
    "workflow": ("id",),
    "insights_metrics": ("project_id",),
    "insights_branches": ("project_id",),
    "workflow_jobs": ("id",),
}


@pytest.fixture(scope="module")
def shipped() -> Spec:
    return load_spec()


def test_shipped_spec_loads_from_the_package(shipped: Spec) -> None:
    assert shipped.source_file == DEFAULT_SPEC
    assert DEFAULT_SPEC.name == "analytics_api.yaml"
    assert load_spec() is shipped, "load_spec() is cached: the DAG file and every task share one parse"


def test_shipped_spec_has_the_seed_resources_plus_the_link_resource(shipped: Spec) -> None:
    runs = {"insights_workflows", "workflow_runs", "rerun_workflows", "rerun_workflow_jobs", "rerun_jobs"}
    assert set(shipped.resources) >= {*SEED_PRIMARY_KEYS, "pipeline_workflows", *runs}


@pytest.mark.parametrize(("name", "primary_key"), sorted(SEED_PRIMARY_KEYS.items()), ids=sorted(SEED_PRIMARY_KEYS))
def test_shipped_spec_keeps_the_seed_primary_keys(shipped: Spec, name: str, primary_key: tuple[str, ...]) -> None:
    assert shipped.resource(name).primary_key == primary_key


def test_jobs_merge_on_project_slug_and_number_which_each_row_carries(shipped: Spec) -> None:
    jobs = shipped.resource("jobs")
    assert jobs.primary_key == ("project_slug", "number")
    # `number` is in the job response; `project_slug` only exists on the row because it is carried.
    assert "project_slug" in jobs.carry
    assert jobs.endpoint.placeholders() == {"project_slug", "job_number"}


def test_every_shipped_resource_merges(shipped: Spec) -> None:
    assert {r.name: r.write_disposition for r in shipped.resources.values()} == dict.fromkeys(
        shipped.resources, "merge"
    )


def test_shipped_client_uses_the_seed_cursor_paginator(shipped: Spec) -> None:
    assert shipped.client.paginator == PaginatorSpec(
        type="cursor", cursor_param="page-token", cursor_path="next_page_token"
    )
    overriding = [r.name for r in shipped.resources.values() if r.endpoint.paginator is not None]
    assert overriding == [], "every resource inherits the client's cursor paginator"


def test_shipped_error_handler_retries_429_three_times_with_backoff_factor_2(shipped: Spec) -> None:
    handler = shipped.client.error_handler
    assert 429 in handler.retry_on_status_codes
    assert handler.max_retries == 3
    assert handler.max_attempts == 4
    assert handler.backoff_factor == 2.0


def test_shipped_auth_is_the_seed_api_key_header(shipped: Spec) -> None:
    assert shipped.client.auth.name == "api_key"
    assert shipped.client.auth.location == "header"


def test_link_resource_pipeline_workflows(shipped: Spec) -> None:
    link = shipped.resource("pipeline_workflows")
    assert link.endpoint.path == "/v2/pipeline/{pipeline_id}/workflow"
    assert link.parent == "pipelines"
    assert link.bind == {"pipeline_id": "id"}
    assert link.carry == ("pipeline_id",)
    assert link.table == "workflow", "workflow rows from the list land in the seed's `workflow` table"
    assert link.endpoint.not_found == "empty"
    assert [c.name for c in shipped.children("pipeline_workflows")] == ["workflow", "workflow_jobs"]


def test_pipelines_are_incremental_newest_first(shipped: Spec) -> None:
    incremental = shipped.resource("pipelines").incremental
    assert incremental is not None
    assert incremental.cursor_path == "created_at"
    assert incremental.row_order == "desc"
    assert incremental.lookback == timedelta(hours=1)
    assert incremental.initial_lookback == timedelta(days=1)


def test_project_children_bind_the_v2_project_slug_of_a_v1_project_row(shipped: Spec) -> None:
    row = {"vcs_url": "https://github.com/acme/api", "vcs_type": "github", "username": "acme", "reponame": "api"}
    for name in ("specific_project", "insights_metrics", "insights_branches"):
        resource = shipped.resource(name)
        assert resource.parent == "projects"
        assert set(resource.bind) == {"project_slug"}
        assert render(resource.bind["project_slug"], row) == "gh/acme/api", name


def test_every_shipped_resource_is_in_exactly_one_dag_with_its_parent(shipped: Spec) -> None:
    owners: dict[str, list[str]] = {name: [] for name in shipped.resources}
    for dag in shipped.dags:
        for name in dag.resources:
            owners[name].append(dag.dag_id)
    assert {name: len(dags) for name, dags in owners.items()} == dict.fromkeys(shipped.resources, 1)
    for resource in shipped.resources.values():
        if resource.parent is not None and resource.name != "flaky_tests":
            assert shipped.dag_of(resource.name) == shipped.dag_of(resource.parent)
    # `flaky_tests` reads its projects itself, in the DAG that test results start
    assert shipped.resource("flaky_tests").fetch_parent
    assert shipped.dag_of("flaky_tests").assets == ("job_tests",)  # type: ignore[union-attr]
    assert {d.dag_id for d in shipped.dags} == {
        "analytics_pipelines",
        "analytics_projects",
        "analytics_users",
        "analytics_tests",
    }


# --- a small valid spec, and one change at a time ----------------------------------------------

BASE_SPEC: dict[str, Any] = {
    "version": 1,
    "client": {
        "base_url": "https://api.example.test",
        "paginator": {"type": "cursor", "cursor_param": "page-token", "cursor_path": "next_page_token"},
        "error_handler": {"retry_on_status_codes": [429], "max_retries": 3, "backoff_factor": 2},
    },
    "resource_defaults": {"write_disposition": "merge", "batch_size": 100},
    "resources": [
        {"name": "orgs", "endpoint": {"path": "/v2/orgs", "data_selector": "items"}},
        {
            "name": "repos",
            "parent": "orgs",
            "endpoint": {"path": "/v2/org/{org_id}/repos"},
            "bind": {"org_id": "id"},
            "carry": ["org_id"],
        },
        {
            "name": "builds",
            "parent": "repos",
            "endpoint": {"path": "/v2/project/{slug}/builds", "params": {"branch": "main"}},
            "bind": {"slug": "{vcs|vcs_slug}/{owner}/{name}"},
            "carry": ["slug"],
            "primary_key": ["slug", "number"],
            "incremental": {"cursor_path": "created_at", "row_order": "desc", "lookback": "1h"},
        },
        {"name": "users", "endpoint": "/v2/users", "columns": {"profile": {"data_type": "json"}}},
        {
            "name": "teams",
            "parent": "users",
            "endpoint": {"path": "/v2/teams", "params": {"user": "{user_id}"}},
            "bind": {"user_id": "id"},
            "write_disposition": "replace",
        },
    ],
    "dags": [
        {"dag_id": "org_dag", "schedule": "@daily", "resources": ["orgs", "repos", "builds"]},
        {"dag_id": "user_dag", "schedule": "@hourly", "resources": ["users", "teams"]},
    ],
}

_DELETE = object()


def _changed(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy of BASE_SPEC with the value at `path` set (or deleted with `_DELETE`)."""
    spec = copy.deepcopy(BASE_SPEC)
    node: Any = spec
    for part in path[:-1]:
        node = node[part]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return spec


def _write(tmp_path: Path, raw: Any, name: str = "spec.yaml") -> Path:
    file = tmp_path / name
    file.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return file


def test_base_spec_is_valid() -> None:
    """The table below changes one thing each; the base itself must pass, or the table proves nothing."""
    spec = parse_spec(BASE_SPEC, source="base.yaml")
    assert list(spec.resources) == ["orgs", "repos", "builds", "users", "teams"]
    assert spec.resource("builds").primary_key == ("slug", "number")
    assert spec.resource("repos").batch_size == 100, "resource_defaults apply"
    assert spec.resource("teams").write_disposition == "replace", "a resource overrides resource_defaults"
    assert spec.resource("users").endpoint.path == "/v2/users", "a bare string endpoint is its path"
    assert [d.dag_id for d in spec.dags] == ["org_dag", "user_dag"]


INVALID_SPECS = [
    pytest.param(("extras",), {"a": 1}, "<root>", "unknown key(s) `extras`", id="unknown-top-level-key"),
    pytest.param(("client",), _DELETE, "<root>", "missing required key(s) `client`", id="missing-client"),
    pytest.param(("version",), 2, "version", "unsupported version 2", id="unsupported-version"),
    pytest.param(
        ("resources", 0, "paginate"), True, "resources[0]", "unknown key(s) `paginate`", id="unknown-resource-key"
    ),
    pytest.param(
        ("resources", 0, "endpoint", "method"),
        "GET",
        "resources[0] (`orgs`).endpoint",
        "unknown key(s) `method`",
        id="unknown-endpoint-key",
    ),
    pytest.param(
        ("resources", 1, "endpoint", "params"),
        {"since": "{since}"},
        "resources[1] (`repos`).endpoint",
        "placeholder(s) `since` have no source (parent `orgs`)",
        id="placeholder-without-source-in-child",
    ),
    pytest.param(
        ("resources", 0, "endpoint", "path"),
        "/v2/orgs/{org_id}",
        "resources[0] (`orgs`).endpoint",
        "placeholder(s) `org_id` have no source (no parent)",
        id="placeholder-without-source-in-root",
    ),
    pytest.param(
        ("resources", 1, "parent"),
        _DELETE,
        "resources[1] (`repos`).bind",
        "`bind` needs a `parent` resource",
        id="bind-without-parent",
    ),
    pytest.param(
        ("resources", 1, "bind", "extra"),
        "id",
        "resources[1] (`repos`).bind",
        "`extra` bound but not used",
        id="bound-but-unused",
    ),
    pytest.param(
        ("resources", 1, "parent"),
        "organisations",
        "resources[1] (`repos`).parent",
        "unknown resource `organisations`",
        id="unknown-parent",
    ),
    pytest.param(
        ("resources", 0, "parent"),
        "builds",
        "resources[0] (`orgs`).parent",
        "cycle: orgs -> builds -> repos -> orgs",
        id="cycle-between-resources",
    ),
    pytest.param(
        ("resources", 3, "parent"), "users", "resources[3] (`users`).parent", "cycle: users -> users", id="own-parent"
    ),
    pytest.param(
        ("client", "paginator", "type"),
        "offset",
        "client.paginator.type",
        "unknown paginator type `offset`; allowed: `cursor`, `single_page`",
        id="unknown-paginator-type",
    ),
    pytest.param(
        ("resources", 3, "endpoint"),
        {"path": "/v2/users", "paginator": {"type": "link_header"}},
        "resources[3] (`users`).endpoint.paginator.type",
        "unknown paginator type `link_header`; allowed: `cursor`, `single_page`",
        id="unknown-endpoint-paginator-type",
    ),
    pytest.param(
        ("client", "paginator", "page_size"),
        50,
        "client.paginator",
        "unknown key(s) `page_size`",
        id="unknown-paginator-key",
    ),
    pytest.param(
        ("resources", 3, "write_disposition"),
        "upsert",
        "resources[3] (`users`).write_disposition",
        "expected `merge`, `append` or `replace`, got `upsert`",
        id="bad-write-disposition",
    ),
    pytest.param(
        ("resources", 3, "primary_key"),
        [],
        "resources[3] (`users`).primary_key",
        "expected a column name or a list of them",
        id="empty-primary-key",
    ),
    pytest.param(
        ("resources", 3, "primary_key"),
        42,
        "resources[3] (`users`).primary_key",
        "expected a column name or a list of them, got 42",
        id="numeric-primary-key",
    ),
    pytest.param(
        ("resources", 3, "primary_key"),
        ["id", ""],
        "resources[3] (`users`).primary_key",
        "expected a column name or a list of them",
        id="blank-primary-key-column",
    ),
    pytest.param(
        ("resources", 3, "name"),
        "orgs",
        "resources[3].name",
        "duplicate resource name `orgs`",
        id="duplicate-resource-name",
    ),
    pytest.param(
        ("resources", 3, "name"),
        "Users",
        "resources[3].name",
        "expected a lower-case identifier",
        id="bad-resource-name",
    ),
    pytest.param(
        ("resources", 1, "carry"),
        ["org_id", "org_slug"],
        "resources[1] (`repos`).carry",
        "`org_slug` not in `bind`",
        id="carry-of-unbound-name",
    ),
    pytest.param(
        ("resources", 2, "bind", "slug"),
        "{vcs|upper}/{owner}/{name}",
        "resources[2] (`builds`).bind.slug",
        "unknown filter `upper` on `vcs`; allowed: `",
        id="unknown-bind-filter",
    ),
    pytest.param(
        ("resources", 2, "incremental", "lookback"),
        "1 week",
        "resources[2] (`builds`).incremental.lookback",
        "expected a duration like `30m`",
        id="bad-incremental-lookback",
    ),
    pytest.param(
        ("resources", 2, "incremental", "initial_lookback"),
        "3y",
        "resources[2] (`builds`).incremental.initial_lookback",
        "expected a duration like `30m`",
        id="bad-incremental-initial-lookback",
    ),
    pytest.param(
        ("resources", 2, "incremental", "row_order"),
        "newest",
        "resources[2] (`builds`).incremental.row_order",
        "expected `asc` or `desc`",
        id="bad-row-order",
    ),
    pytest.param(
        ("resources", 2, "incremental", "cursor_path"),
        _DELETE,
        "resources[2] (`builds`).incremental",
        "missing required key(s) `cursor_path`",
        id="incremental-without-cursor",
    ),
    pytest.param(
        ("resources", 1, "batch_size"),
        0,
        "resources[1] (`repos`).batch_size",
        "expected a positive integer, got 0",
        id="zero-batch-size",
    ),
    pytest.param(
        ("resources", 3, "only_if"),
        {"status": ["active"]},
        "resources[3] (`users`).only_if",
        "needs a `parent`",
        id="only-if-without-parent",
    ),
    pytest.param(
        ("resources", 4, "only_if"),
        {"status": "active"},
        "resources[4] (`teams`).only_if.status",
        "expected a list of allowed values",
        id="only-if-value-not-a-list",
    ),
    pytest.param(
        ("resources", 3, "endpoint"),
        "v2/users",
        "resources[3] (`users`).endpoint.path",
        "expected a path starting with `/`",
        id="relative-endpoint-path",
    ),
    pytest.param(
        ("resources", 0, "endpoint", "not_found"),
        "ignore",
        "resources[0] (`orgs`).endpoint.not_found",
        "expected `fail` or `empty`",
        id="bad-not-found",
    ),
    pytest.param(
        ("client", "auth"),
        {"location": "cookie"},
        "client.auth.location",
        "expected `header` or `query`",
        id="bad-auth-location",
    ),
    pytest.param(
        ("client", "error_handler", "retry_on_status_codes"),
        [200],
        "client.error_handler.retry_on_status_codes",
        "expected HTTP status codes",
        id="retry-on-non-error-status",
    ),
    pytest.param(
        ("client", "error_handler", "max_retries"),
        21,
        "client.error_handler.max_retries",
        "expected an integer 0..20",
        id="too-many-retries",
    ),
    pytest.param(
        ("dags", 1, "resources"),
        ["users", "teams", "groups"],
        "dags[1] (`user_dag`).resources",
        "unknown resource `groups`",
        id="dag-with-unknown-resource",
    ),
    pytest.param(
        ("resources", 4, "parent"),
        "orgs",
        "dags[1] (`user_dag`).resources",
        "`teams` needs its parent `orgs` in the same DAG",
        id="child-in-a-different-dag-than-its-parent",
    ),
    pytest.param(
        ("resources", 0, "fetch_parent"),
        True,
        "resources[0] (`orgs`).fetch_parent",
        "give it a `parent`",
        id="fetch-parent-without-a-parent",
    ),
    pytest.param(
        ("resources", 3, "primary_key"),
        [],
        "resources[3] (`users`).primary_key",
        "rows without an identity need a `merge_key`",
        id="no-primary-key-and-no-merge-key",
    ),
    pytest.param(
        ("resources", 4, "merge_key"),
        ["user_id"],
        "resources[4] (`teams`).merge_key",
        "needs `write_disposition: merge`",
        id="merge-key-with-replace",
    ),
    pytest.param(
        ("dags", 1, "schedule"),
        {"assets": ["nope"]},
        "dags[1] (`user_dag`).schedule.assets",
        "unknown resource `nope`",
        id="asset-schedule-on-an-unknown-resource",
    ),
    pytest.param(
        ("dags", 1, "schedule"),
        {"assets": []},
        "dags[1] (`user_dag`).schedule.assets",
        "at least one resource",
        id="asset-schedule-without-assets",
    ),
    pytest.param(
        ("resources", 2, "fetch_parent"),
        True,
        "resources[2] (`builds`).fetch_parent",
        "the parent `repos` is a child or incremental",
        id="fetch-parent-of-a-child",
    ),
    pytest.param(
        ("resources", 2, "fetch_parent"),
        "yes",
        "resources[2] (`builds`).fetch_parent",
        "expected true or false",
        id="fetch-parent-not-a-bool",
    ),
    pytest.param(
        ("resources", 2, "skip_loaded"),
        {"slug": "slug"},
        "resources[2] (`builds`).skip_loaded",
        "would miss them",
        id="skip-loaded-on-an-incremental-child",
    ),
    pytest.param(
        ("dags", 1, "resources"),
        ["users", "teams", "orgs"],
        "dags[1] (`user_dag`).resources",
        "`orgs` is already in `org_dag`",
        id="resource-in-two-dags",
    ),
    pytest.param(
        ("dags", 0, "dag_id"),
        "org dag",
        "dags[0].dag_id",
        "expected letters, digits",
        id="bad-dag-id",
    ),
    pytest.param(
        ("dags", 0, "schedule"),
        _DELETE,
        "dags[0]",
        "missing required key(s) `schedule`",
        id="dag-without-schedule",
    ),
    pytest.param(
        ("resources", 3, "api_v3"),
        {"endpoint": "/v2/users"},
        "resources[3] (`users`).api_v3.endpoint.path",
        "an `api_v3` variant reads a `/v3/...` path",
        id="v3-variant-not-on-v3",
    ),
    pytest.param(
        ("resources", 3, "api_v3"),
        {"endpoint": "/v3/users", "primary_key": "login"},
        "resources[3] (`users`).api_v3",
        "unknown key(s) `primary_key`",
        id="v3-variant-changes-the-table-identity",
    ),
    pytest.param(
        ("resources", 3, "api_v3"),
        {
            "endpoint": {"path": "/v3/users", "params": {"filter[org_id]": "{org_id}"}},
            "parent": "orgs",
            "bind": {"org_id": "id"},
        },
        "resources[3] (`users`).api_v3",
        "must each be one task",
        id="v3-variant-changes-the-task-shape",
    ),
    pytest.param(
        ("resources", 3, "api_v3"),
        {
            "endpoint": {"path": "/v3/users", "params": {"filter[org_id]": "{org_id}"}},
            "parent": "nope",
            "fetch_parent": True,
            "bind": {"org_id": "id"},
        },
        "resources[3] (`users`).api_v3.parent",
        "unknown resource `nope`",
        id="v3-variant-with-an-unknown-parent",
    ),
    pytest.param(
        ("resources", 3, "fields"),
        {"login": "attributes..login"},
        "resources[3] (`users`).fields.login",
        "expected a dotted path like `attributes.name`",
        id="fields-with-an-empty-path-part",
    ),
]


@pytest.mark.parametrize(("change", "value", "error_path", "phrase"), INVALID_SPECS)
def test_invalid_spec_names_file_key_path_and_problem(
    tmp_path: Path, change: tuple[str | int, ...], value: Any, error_path: str, phrase: str
) -> None:
    file = _write(tmp_path, _changed(change, value), name="my_spec.yaml")
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    error = caught.value
    assert error.path == error_path
    assert phrase in str(error)
    assert error.source == str(file)
    assert str(error).startswith(f"{file}: {error_path}: ")


def test_parse_spec_does_not_mutate_its_input() -> None:
    raw = copy.deepcopy(BASE_SPEC)
    parse_spec(raw)
    assert raw == BASE_SPEC


def test_parse_spec_does_not_mutate_the_shipped_yaml() -> None:
    raw = yaml.safe_load(DEFAULT_SPEC.read_text(encoding="utf-8"))
    before = copy.deepcopy(raw)
    parse_spec(raw, source=str(DEFAULT_SPEC))
    assert raw == before


def test_parsed_spec_does_not_share_state_with_its_input() -> None:
    raw = copy.deepcopy(BASE_SPEC)
    spec = parse_spec(raw)
    raw["resources"][3]["columns"]["profile"]["data_type"] = "text"
    raw["resources"][1]["bind"]["org_id"] = "slug"
    assert spec.resource("users").columns == {"profile": {"data_type": "json"}}
    assert spec.resource("repos").bind == {"org_id": "id"}


def test_parse_spec_names_the_given_source() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(_changed(("resources", 3, "write_disposition"), "upsert"), source="inline-spec")
    assert caught.value.source == "inline-spec"
    assert str(caught.value).startswith("inline-spec: resources[3] (`users`).write_disposition: ")


# --- files that are not specs ------------------------------------------------------------------


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text("client: {base_url: https://x\nresources: [\n", encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    assert caught.value.path == "<file>"
    assert "not valid YAML" in str(caught.value)
    assert str(file) in str(caught.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "does_not_exist.yaml"
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    assert caught.value.path == "<file>"
    assert "cannot read the spec" in str(caught.value)
    assert str(file) in str(caught.value)


@pytest.mark.parametrize(
    ("content", "phrase"),
    [("", "expected a mapping, got NoneType"), ("- a\n- b\n", "expected a mapping, got list")],
    ids=["empty-file", "top-level-list"],
)
def test_yaml_that_is_not_a_mapping_names_the_file(tmp_path: Path, content: str, phrase: str) -> None:
    file = tmp_path / "not_a_spec.yaml"
    file.write_text(content, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    assert caught.value.path == "<root>"
    assert phrase in str(caught.value)
    assert str(file) in str(caught.value)


def test_a_valid_file_loads_and_is_cached_per_path(tmp_path: Path) -> None:
    file = _write(tmp_path, BASE_SPEC, name="valid.yaml")
    spec = load_spec(file)
    assert spec.source_file == file
    assert load_spec(file) is spec


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        (" 1.5h ", timedelta(minutes=90)),
        (3600, timedelta(hours=1)),
        (0.5, timedelta(milliseconds=500)),
    ],
    ids=["seconds", "minutes", "hours", "days", "fraction-with-spaces", "int-seconds", "float-seconds"],
)
def test_parse_duration(value: Any, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "value",
    ["1w", "h", "", "1 week", None, True, "1h30m", "-1h"],
    ids=["weeks", "no-number", "empty", "words", "none", "bool", "compound", "negative-string"],
)
def test_parse_duration_rejects(value: Any) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)


# --- known gaps (bugs): each test states the behaviour the loader promises ----------------------


_NEGATIVE_DURATION = (
    "bug: parse_duration accepts negative numbers of seconds (spec/loader.py:84-85), so a negative "
    "incremental.lookback or initial_lookback passes validation"
)


def test_parse_duration_rejects_a_negative_number() -> None:
    with pytest.raises(ValueError):
        parse_duration(-3600)


def test_negative_lookback_is_a_spec_error(tmp_path: Path) -> None:
    file = _write(tmp_path, _changed(("resources", 2, "incremental", "lookback"), -3600))
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    assert caught.value.path == "resources[2] (`builds`).incremental.lookback"


@pytest.mark.parametrize(
    ("change", "value"),
    [
        (("resources", 0, "endpoint", "path"), "/v2/orgs/{org_id"),
        (("resources", 1, "endpoint", "params"), {"q": "}"}),
    ],
    ids=["unclosed-brace-in-path", "stray-brace-in-param"],
)
def test_malformed_placeholder_is_a_spec_error(tmp_path: Path, change: tuple[str | int, ...], value: Any) -> None:
    file = _write(tmp_path, _changed(change, value))
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    assert caught.value.path.startswith(f"resources[{change[1]}]")
    assert str(file) in str(caught.value)


@pytest.mark.parametrize("schedule", ["every soon", "not a cron", "every 0m"], ids=["bad-every", "bad-cron", "zero"])
def test_bad_dag_schedule_is_a_spec_error(tmp_path: Path, schedule: str) -> None:
    file = _write(tmp_path, _changed(("dags", 0, "schedule"), schedule))
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    assert caught.value.path == "dags[0] (`org_dag`).schedule"


@pytest.mark.parametrize("value", ["orgs", [{"name": "orgs"}]], ids=["string", "list-of-mappings"])
def test_dag_resources_must_be_a_list_of_names(tmp_path: Path, value: Any) -> None:
    file = _write(tmp_path, _changed(("dags", 0, "resources"), value))
    with pytest.raises(SpecError) as caught:
        load_spec(file)
    assert caught.value.path == "dags[0] (`org_dag`).resources"
    assert "list" in str(caught.value)


def test_shipped_projects_read_v3_per_org_into_the_same_table(shipped: Spec) -> None:
    projects = shipped.resource("projects")
    v3 = projects.api_v3
    assert v3 is not None and projects.for_api("v2") is projects and projects.for_api("v3") is v3
    assert v3.endpoint.path == "/v3/projects" and v3.parent == "self_collaborations" and v3.fetch_parent
    assert v3.endpoint.params["filter[org_id]"] == "{org_id}"
    assert v3.endpoint.paginator == PaginatorSpec(type="cursor", cursor_param="page[cursor]", cursor_path="page.next")
    assert (v3.table, v3.primary_key) == (projects.table, projects.primary_key)
    # every column the children bind from a v1.1 row is one the v3 row is given
    assert {"vcs_url", "username", "reponame", "vcs_type"} <= set(v3.fields)
    assert [r.name for r in shipped.resources.values() if r.api_v3 is not None] == ["projects"]
