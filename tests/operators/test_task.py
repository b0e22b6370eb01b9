"""What a load task works on, resolved once from the spec: its resource for the connection's API
version, its parent, the parents it reads from the API, what it records, and its window."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from analytics_provider.config.loader import load_spec
from analytics_provider.operators.task import LoadTask, resolve_load_task

SPEC = load_spec()
LOG = logging.getLogger(__name__)
START = datetime(2026, 11, 1, tzinfo=timezone.utc)
END = datetime(2026, 11, 2, tzinfo=timezone.utc)


def _task(name: str, version: str = "v2", context: dict | None = None, **window: str) -> LoadTask:
    return resolve_load_task(
        SPEC, name, version, context or {}, start=window.get("start"), end=window.get("end"), log=LOG
    )


def test_a_fetched_child_reads_its_parents_as_the_connections_api_version_serves_them() -> None:
    v2 = _task("flaky_tests")
    assert v2.fetched == (SPEC.resource("projects"),), "v1.1 projects are a root list: one level"
    v3 = _task("flaky_tests", "v3")
    projects_v3 = SPEC.resource("projects").for_api("v3")
    assert v3.fetched == (projects_v3, SPEC.resource("self_collaborations")), "v3 projects are listed per org"
    assert v3.parent == SPEC.resource("projects") and v3.resource == SPEC.resource("flaky_tests").for_api("v3")


def test_a_parent_records_what_its_children_read_and_a_leaf_records_nothing() -> None:
    parent = _task("pipeline_workflows")
    assert parent.records == ("id", "status") and parent.has_children
    leaf = _task("job_tests")
    assert leaf.records == () and not leaf.has_children and _task("self_collaborations").parent is None


def test_an_explicit_window_has_no_refresh_time_and_a_scheduled_one_reads_the_interval_end() -> None:
    explicit = _task("pipelines", start=START.isoformat(), end=END.isoformat())
    assert explicit.window.stateless and explicit.reference is None
    scheduled = _task("pipelines", context={"data_interval_start": START, "data_interval_end": END})
    assert not scheduled.window.stateless and scheduled.reference is not None
    assert scheduled.reference() == END


def test_a_window_before_the_apis_retention_is_flagged_with_the_earliest_instant_served() -> None:
    retention = SPEC.resource("workflow_runs").incremental.retention
    assert retention is not None
    old = datetime.now(timezone.utc) - retention - timedelta(days=5)
    task = _task("workflow_runs", start=old.isoformat(), end=(old + timedelta(days=1)).isoformat())
    assert task.served_since is not None and datetime.fromisoformat(task.served_since) > old
    assert _task("pipelines", start=START.isoformat(), end=END.isoformat()).served_since is None
