"""Where one task's keys come from: a batch, a batch reference, the parent's loads, or the API."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from analytics_provider.config.loader import load_spec
from analytics_provider.config.model import ResourceSpec
from analytics_provider.dlt_source.builder import SourceArgs
from analytics_provider.dlt_source.window import LoadWindow
from analytics_provider.fanout.batching import BATCH_REF, batch_label
from analytics_provider.fanout.task_keys import TaskKeys, resolve_task_keys
from analytics_provider.hooks.analytics_api import AnalyticsApiHook
from analytics_provider.warehouse.destinations import open_sql
from tests.fanout.test_batching import record

SPEC = load_spec()
KEYS = [{"project_slug": "gh/acme/api", "job_number": 7}]


@contextlib.contextmanager
def _no_reading() -> Iterator[Any]:
    raise AssertionError("the destination is read only for keys the parent's loads recorded")
    yield


def _keys(name: str, parent_keys: Any = None, parent_output: Any = None, context: Any = None, **kw: Any) -> TaskKeys:
    child = SPEC.resource(name)
    parent = SPEC.resource(child.parent) if child.parent else None
    fetched: tuple[ResourceSpec, ...] = (parent,) if child.fetch_parent and parent else ()
    kw.setdefault("reading", _no_reading)
    return resolve_task_keys(child, parent, fetched, parent_keys, parent_output, context or {}, **kw)


def test_a_root_has_no_keys() -> None:
    got = _keys("self_collaborations")
    assert got == TaskKeys()


def test_a_given_batch_is_the_keys() -> None:
    got = _keys("jobs", KEYS)
    assert got.keys == KEYS and got.label == batch_label(KEYS) and got.nothing_because is None


def test_a_batch_reference_is_pulled_from_the_plan_tasks_xcom() -> None:
    pulled: list[tuple[str, str]] = []

    def xcom_pull(task_ids: str, key: str) -> Any:
        pulled.append((task_ids, key))
        return KEYS

    ref = {BATCH_REF: {"task_id": "plan_jobs", "key": "batch_3"}}
    got = _keys("jobs", ref, context={"ti": SimpleNamespace(xcom_pull=xcom_pull)})
    assert got.keys == KEYS and pulled == [("plan_jobs", "batch_3")]


def test_a_parent_that_loaded_nothing_says_so() -> None:
    output = {"resource": "workflow_jobs", "rows": {}, "load_ids": []}
    got = _keys("jobs", parent_output=output)
    assert got.nothing_because == "`workflow_jobs` loaded nothing: no `jobs` to load"


def test_the_parents_loads_are_where_the_keys_are_read(duckdb_path: Path) -> None:
    jobs = [{"project_slug": "gh/acme/api", "job_number": n, "status": "success"} for n in (2, 1)]
    load_id = record(duckdb_path, "workflow_jobs", jobs)
    output = {"resource": "workflow_jobs", "rows": {"workflow_jobs": 2}, "load_ids": [load_id]}
    got = _keys("jobs", parent_output=output, reading=lambda: open_sql(None, "analytics"))
    assert list(got.keys or []) == [{"project_slug": "gh/acme/api", "job_number": n} for n in (1, 2)]
    assert got.label == "2 keys from gh/acme/api, 1"


def test_recorded_loads_without_keys_skip_the_child(duckdb_path: Path) -> None:
    load_id = record(duckdb_path, "workflow_jobs", [{"project_slug": "gh/acme/api", "status": "success"}])
    output = {"resource": "workflow_jobs", "rows": {"workflow_jobs": 1}, "load_ids": [load_id]}
    got = _keys("jobs", parent_output=output, reading=lambda: open_sql(None, "analytics"))
    assert got.nothing_because == "no `jobs` keys in what `workflow_jobs` loaded"


@pytest.mark.integration
def test_a_fetched_parent_is_read_from_the_api(emulator: Any, api_connection: str) -> None:
    hook = AnalyticsApiHook(api_connection)
    settings = hook.get_settings()
    api = SourceArgs(settings=settings, session=hook.get_conn(), client=SPEC.client, dataset="analytics")
    got = _keys("flaky_tests", api=api, window=LoadWindow(None, None, "scheduled"))
    assert got.fetched_requests == 1
    assert sorted(k["project_slug"] for k in got.keys or []) == sorted(
        p["slug"] for p in emulator.truth("specific_project")
    )
