"""A child's keys as a parent's load records them and as they are read back: which fields are
recorded, the projection of a page, distinct sorted keys with `only_if`, pruning old records."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from analytics_provider.config.key_records import recorded_fields, recorded_page
from analytics_provider.config.loader import load_spec
from analytics_provider.config.model import keys_table
from analytics_provider.fanout.child_keys import KEEP_KEYS, KeyList, distinct_keys, prune_keys
from analytics_provider.warehouse.destinations import open_sql

SPEC = load_spec()


def test_a_parent_records_every_field_its_children_bind_or_filter_on() -> None:
    assert keys_table("workflow") == "_analytics_keys_workflow"
    assert SPEC.resource("workflow").reads == ["id", "status"]  # bind, then only_if
    # pipeline_workflows feeds `workflow` (id, status) and `workflow_jobs` (id): recorded once each
    assert recorded_fields(SPEC, SPEC.resource("pipeline_workflows")) == ["id", "status"]
    assert recorded_fields(SPEC, SPEC.resource("job_tests")) == []  # no children, nothing recorded


def test_a_recorded_page_is_the_projection_of_its_rows() -> None:
    rows = [{"id": "w1", "status": "success", "name": "build"}, {"id": "w2"}]
    assert recorded_page(rows, ["id", "status"]) == {
        "keys": [{"id": "w1", "status": "success"}, {"id": "w2", "status": None}]
    }


def test_distinct_keys_are_sorted_deduplicated_and_filtered_by_only_if() -> None:
    parent, child = SPEC.resource("jobs"), SPEC.resource("job_tests")
    rows: list[dict[str, Any]] = [
        {"project_slug": "gh/b/x", "number": 2, "status": "success"},
        {"project_slug": "gh/a/x", "number": 9, "status": "failed"},
        {"project_slug": "gh/a/x", "number": 9, "status": "failed"},  # the same job on two pages
        {"project_slug": "gh/a/x", "number": 3, "status": "running"},  # not final: no results yet
        {"project_slug": None, "number": 4, "status": "success"},  # no value to bind
    ]
    assert distinct_keys(parent, child, rows) == [
        {"project_slug": "gh/a/x", "job_number": 9},
        {"project_slug": "gh/b/x", "job_number": 2},
    ]


def test_a_key_list_hands_out_dicts_by_item_and_slice() -> None:
    keys = KeyList(("a", "b"), [(1, "x"), (2, "y")])
    assert keys[1] == {"a": 2, "b": "y"} and keys[:1] == [{"a": 1, "b": "x"}] and len(keys) == 2
    assert list(keys.keeping([(3, "z")])) == [{"a": 3, "b": "z"}]


def test_recorded_keys_older_than_the_horizon_are_pruned(duckdb_path: Path) -> None:
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    old, recent = (now - KEEP_KEYS).timestamp() - 60, now.timestamp() - 60
    with duckdb.connect(str(duckdb_path)) as con:
        con.execute("CREATE SCHEMA analytics")
        con.execute('CREATE TABLE analytics."_analytics_keys_workflow" (keys JSON, _dlt_load_id VARCHAR)')
        con.execute(
            "INSERT INTO analytics._analytics_keys_workflow VALUES ('[]', ?), ('[]', ?)",
            [f"{old:.6f}", f"{recent:.6f}"],
        )
    with open_sql(None, "analytics") as sql:
        prune_keys(sql, keys_table("workflow"), now)
        prune_keys(sql, keys_table("pipelines"), now)  # no keys table yet: nothing to do
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        left = con.execute("SELECT _dlt_load_id FROM analytics._analytics_keys_workflow").fetchall()
    assert left == [(f"{recent:.6f}",)]
