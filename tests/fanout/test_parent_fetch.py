"""A `fetch_parent` child's keys read from the API in its own task, against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from analytics_provider.config.loader import load_spec
from analytics_provider.dlt_source.builder import SourceArgs
from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.fanout.bind import render
from analytics_provider.fanout.parent_fetch import fetch_parent_keys
from analytics_provider.hooks.analytics_api import AnalyticsApiHook

SPEC = load_spec()
WINDOW = LoadWindow(None, None, "scheduled")

pytestmark = pytest.mark.integration


def _api(conn_id: str) -> SourceArgs:
    hook = AnalyticsApiHook(conn_id)
    return SourceArgs(settings=hook.get_settings(), session=hook.get_conn(), client=SPEC.client, dataset="analytics")


def test_the_keys_are_the_distinct_bound_values_of_the_parents_rows_sorted(emulator: Any, api_connection: str) -> None:
    child = SPEC.resource("flaky_tests")
    keys, made = fetch_parent_keys(child, (SPEC.resource("projects"),), _api(api_connection), WINDOW)
    expected = sorted({render(child.bind["project_slug"], p) for p in emulator.truth("projects")})
    assert [k["project_slug"] for k in keys] == expected and made == 1


def test_a_parent_that_reads_its_own_parent_is_read_top_down(emulator: Any, api_connection: str) -> None:
    """v3 `projects` are listed per org: the orgs first, then each org's projects, then the keys."""
    child = SPEC.resource("flaky_tests").for_api("v3")
    parents = (SPEC.resource("projects").for_api("v3"), SPEC.resource("self_collaborations"))
    keys, made = fetch_parent_keys(child, parents, _api(api_connection), WINDOW)
    orgs = emulator.truth("self_collaborations")
    assert made >= 1 + len(orgs), "one request for the orgs, at least one per org for its projects"
    assert [k["project_slug"] for k in keys] == sorted(p["slug"] for p in emulator.truth("specific_project"))
