"""Parent keys: rendering bind expressions against parent rows, and collecting a child's keys."""

from __future__ import annotations

from typing import Any

import pytest

from analytics_provider.config.keys import FILTERS
from analytics_provider.config.loader import load_spec
from analytics_provider.fanout.bind import child_key_values, render

PROJECT_SLUG = "{vcs_type|vcs_slug}/{username}/{reponame}"


# --- render ------------------------------------------------------------------------------------


def test_render_plain_field_returns_the_value_unchanged() -> None:
    assert render("id", {"id": "8d0f", "name": "x"}) == "8d0f"
    assert render("job_number", {"job_number": 42}) == 42, "a plain field keeps its type"


def test_render_template_joins_fields() -> None:
    row = {"vcs_type": "github", "username": "acme", "reponame": "api"}
    assert render(PROJECT_SLUG, row) == "gh/acme/api"
    assert render("{username}-{reponame}", row) == "acme-api"
    assert render("{ username }", row) == "acme", "spaces inside braces are ignored"


def test_render_template_stringifies_values() -> None:
    assert render("{org}/{number}", {"org": "acme", "number": 7}) == "acme/7"


@pytest.mark.parametrize(
    ("vcs_type", "slug"),
    [
        ("github", "gh"),
        ("bitbucket", "bb"),
        ("circleci", "circleci"),
        ("GitHub", "gh"),
        ("Bitbucket", "bb"),
        ("gh", "gh"),
    ],
    ids=["github", "bitbucket", "circleci-stays", "github-any-case", "bitbucket-any-case", "already-a-slug"],
)
def test_vcs_slug_filter(vcs_type: str, slug: str) -> None:
    assert FILTERS["vcs_slug"](vcs_type) == slug
    assert render("{vcs|vcs_slug}/acme/api", {"vcs": vcs_type}) == f"{slug}/acme/api"


@pytest.mark.parametrize(
    ("vcs_url", "slug"),
    [
        ("https://github.com/acme/api", "gh/acme/api"),
        ("https://bitbucket.org/acme/web", "bb/acme/web"),
        ("https://circleci.com/5f2c/9a41", "circleci/5f2c/9a41"),
        ("https://GitHub.com/acme/api/", "gh/acme/api"),
    ],
    ids=["github", "bitbucket", "circleci", "host-case-and-trailing-slash"],
)
def test_project_slug_filter(vcs_url: str, slug: str) -> None:
    assert FILTERS["project_slug"](vcs_url) == slug
    assert render("{vcs_url|project_slug}", {"vcs_url": vcs_url}) == slug


@pytest.mark.parametrize(
    ("expr", "row"),
    [
        ("id", {}),
        ("id", {"id": None}),
        (PROJECT_SLUG, {"vcs_type": "github", "username": "acme"}),
        (PROJECT_SLUG, {"vcs_type": None, "username": "acme", "reponame": "api"}),
        ("{a}", {}),
    ],
    ids=["plain-missing", "plain-none", "template-missing-field", "template-none-field", "single-field-template"],
)
def test_render_missing_or_null_field_is_none(expr: str, row: dict[str, Any]) -> None:
    assert render(expr, row) is None


def test_render_keeps_falsy_but_present_values() -> None:
    assert render("job_number", {"job_number": 0}) == 0
    assert render("{n}", {"n": 0}) == "0"
    assert render("name", {"name": ""}) == ""


# --- child_key_values ----------------------------------------------------------------------------
def child_keys(bind: dict[str, str], rows: Any, only_if: Any = None) -> tuple[list[dict[str, Any]], int]:
    """`child_key_values` with each key as a dict of its bound names, as the batches hand them out."""
    values, skipped = child_key_values(bind, rows, only_if)
    return [dict(zip(bind, v, strict=True)) for v in values], skipped


def test_child_keys_dedups_in_first_seen_order() -> None:
    rows = [{"id": "c"}, {"id": "a"}, {"id": "c"}, {"id": "b"}, {"id": "a"}]
    keys, skipped = child_keys({"org_id": "id"}, rows)
    assert keys == [{"org_id": "c"}, {"org_id": "a"}, {"org_id": "b"}]
    assert skipped == 0


def test_child_keys_dedups_on_every_bound_value() -> None:
    bind = {"project_slug": "project_slug", "job_number": "job_number"}
    rows = [
        {"project_slug": "gh/acme/api", "job_number": 1},
        {"project_slug": "gh/acme/web", "job_number": 1},
        {"project_slug": "gh/acme/api", "job_number": 1},
    ]
    keys, _ = child_keys(bind, rows)
    assert keys == [
        {"project_slug": "gh/acme/api", "job_number": 1},
        {"project_slug": "gh/acme/web", "job_number": 1},
    ]


def test_child_keys_skips_and_counts_approval_jobs_without_job_number() -> None:
    """The shipped `jobs` bind: approval jobs and jobs not started have no `job_number`."""
    bind = load_spec().resource("jobs").bind
    rows = [
        {"id": "j1", "type": "build", "project_slug": "gh/acme/api", "job_number": 11},
        {"id": "j2", "type": "approval", "project_slug": "gh/acme/api"},
        {"id": "j3", "type": "build", "project_slug": "gh/acme/api", "job_number": None},
        {"id": "j4", "type": "build", "project_slug": "gh/acme/api", "job_number": 12},
        {"id": "j5", "type": "build", "project_slug": "gh/acme/api", "job_number": 11},
    ]
    keys, skipped = child_keys(bind, rows)
    assert keys == [
        {"project_slug": "gh/acme/api", "job_number": 11},
        {"project_slug": "gh/acme/api", "job_number": 12},
    ]
    assert skipped == 2, "duplicates are not counted as skipped; rows without job_number are"


def test_child_keys_renders_the_shipped_project_slug_binding() -> None:
    bind = load_spec().resource("specific_project").bind
    rows = [
        {"vcs_url": "https://github.com/acme/api", "vcs_type": "github", "username": "acme", "reponame": "api"},
        {"vcs_url": "https://bitbucket.org/acme/web", "vcs_type": "bitbucket", "username": "acme", "reponame": "web"},
        {"vcs_url": "https://github.com/acme/api", "vcs_type": "github", "username": "acme", "reponame": "api"},
        {"username": "acme"},
    ]
    keys, skipped = child_keys(bind, rows)
    assert keys == [{"project_slug": "gh/acme/api"}, {"project_slug": "bb/acme/web"}]
    assert skipped == 1


def test_child_keys_of_no_rows() -> None:
    assert child_keys({"org_id": "id"}, []) == ([], 0)
    assert child_keys({"org_id": "id"}, iter([{"id": 1}])) == ([{"org_id": 1}], 0), "any iterable of rows"


def test_child_keys_filters_parent_rows_by_only_if() -> None:
    """The shipped `workflow` re-reads by id only the workflows that were unfinished when listed."""
    workflow = load_spec().resource("workflow")
    assert set(workflow.only_if["status"]) == {"running", "on_hold", "failing"}  # `not_run` is final
    rows = [
        {"id": "w1", "status": "success"},
        {"id": "w2", "status": "running"},
        {"id": "w3", "status": "on_hold"},
        {"id": "w4", "status": "failed"},
        {"id": "w2", "status": "running"},
        {"id": None, "status": "running"},
        {"id": "w5"},
    ]
    keys, skipped = child_keys(workflow.bind, rows, workflow.only_if)
    assert keys == [{"workflow_id": "w2"}, {"workflow_id": "w3"}]
    assert skipped == 1, "rows filtered out by only_if are not counted; a matching row without an id is"


def test_child_keys_without_only_if_keeps_every_row() -> None:
    rows = [{"id": "w1", "status": "success"}, {"id": "w2", "status": "running"}]
    assert child_keys({"workflow_id": "id"}, rows) == ([{"workflow_id": "w1"}, {"workflow_id": "w2"}], 0)
    assert child_keys({"workflow_id": "id"}, rows, {}) == ([{"workflow_id": "w1"}, {"workflow_id": "w2"}], 0)
