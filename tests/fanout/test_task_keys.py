"""Where one task's keys come from: a batch, a batch reference, the parent's loads, or the API."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from analytics_provider.config.loader import load_spec
from analytics_provider.fanout.batching import BATCH_REF
from analytics_provider.fanout.task_keys import TaskKeys, read_recorded, resolve_task_keys
from analytics_provider.hooks.analytics_api import AnalyticsApiHook
from analytics_provider.window import LoadWindow

SPEC = load_spec()
KEYS = [{"project_slug": "gh/acme/api", "job_number": 7}]


def test_a_root_has_no_keys() -> None:
    got = resolve_task_keys(SPEC, SPEC.resource("self_collaborations"), None, None, {}, {})
    assert got == TaskKeys()


def test_a_given_batch_is_the_keys() -> None:
    got = resolve_task_keys(SPEC, SPEC.resource("jobs"), KEYS, None, {}, {})
    assert got.keys == KEYS and got.loads is None and not got.fetched
    assert read_recorded(None, SPEC, SPEC.resource("jobs"), got) == KEYS  # nothing to read


def test_a_batch_reference_is_pulled_from_the_plan_tasks_xcom() -> None:
    pulled: list[tuple[str, str]] = []

    def xcom_pull(task_ids: str, key: str) -> Any:
        pulled.append((task_ids, key))
        return KEYS

    ref = {BATCH_REF: {"task_id": "plan_jobs", "key": "batch_3"}}
    got = resolve_task_keys(SPEC, SPEC.resource("jobs"), ref, None, {"ti": SimpleNamespace(xcom_pull=xcom_pull)}, {})
    assert got.keys == KEYS and pulled == [("plan_jobs", "batch_3")]


def test_a_parent_that_loaded_nothing_says_so() -> None:
    output = {"resource": "workflow_jobs", "rows": {}, "load_ids": []}
    got = resolve_task_keys(SPEC, SPEC.resource("jobs"), None, output, {}, {})
    assert got.nothing_because == "`workflow_jobs` loaded nothing: no `jobs` to load"


def test_the_parents_loads_are_where_to_read_the_keys() -> None:
    output = {"resource": "workflow_jobs", "rows": {"workflow_jobs": 3}, "load_ids": ["171.5"]}
    got = resolve_task_keys(SPEC, SPEC.resource("jobs"), None, output, {}, {})
    assert got.keys is None and got.loads is not None and got.loads.load_ids == ["171.5"]


@pytest.mark.integration
def test_a_fetched_parent_is_read_from_the_api(emulator: Any, api_connection: str) -> None:
    hook = AnalyticsApiHook(api_connection)
    args = {
        "settings": hook.get_settings(),
        "session": hook.get_conn(),
        "dataset": "analytics",
        "window": LoadWindow(None, None, "scheduled"),
        "org_slugs": (),
    }
    got = resolve_task_keys(SPEC, SPEC.resource("flaky_tests"), None, None, {}, args)
    assert got.fetched and got.fetched_requests == 1
    assert sorted(k["project_slug"] for k in got.keys or []) == sorted(
        p["slug"] for p in emulator.truth("specific_project")
    )
