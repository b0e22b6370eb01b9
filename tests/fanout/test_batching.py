"""`plan_<child>` tasks: parent summaries -> keys read from the rows the parent loaded -> batches."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from analytics_provider.config.key_records import KEYS_COLUMNS, recorded_page
from analytics_provider.config.loader import load_spec
from analytics_provider.config.model import KEYS_PREFIX, keys_table
from analytics_provider.fanout.batching import (
    MAX_MAP_LENGTH,
    MIN_BATCH_KEYS,
    ParentLoads,
    batch_bounds,
    parent_loads,
    plan_batch_refs,
    plan_batches,
    pull_batch,
)
from analytics_provider.fanout.child_keys import KeyList, distinct_keys, read_child_keys
from analytics_provider.warehouse.destinations import open_sql


def cut_batches(
    keys: list[dict[str, Any]], batch_size: int = 0, max_batches: int = MAX_MAP_LENGTH
) -> list[list[dict[str, Any]]]:
    """`keys` cut at `batch_bounds`, as the plan task cuts them."""
    return [keys[start:stop] for start, stop in batch_bounds(len(keys), batch_size, max_batches)]


def _keys(count: int) -> list[dict[str, Any]]:
    return [{"workflow_id": f"w{i:04d}"} for i in range(count)]


@pytest.mark.parametrize(
    ("count", "batch_size", "sizes"),
    [
        (200, 200, [200]),
        (201, 200, [101, 100]),
        (450, 200, [150, 150, 150]),
        (513, 200, [171, 171, 171]),
        (3, 5, [3]),
        (4, 1, [1, 1, 1, 1]),
    ],
    ids=["exact", "one-over", "several", "uneven", "fewer-than-size", "size-one"],
)
def test_batches_are_as_few_as_the_size_allows_and_even(count: int, batch_size: int, sizes: list[int]) -> None:
    """Even batches: mapped tasks started together end together (no 1-key straggler to wait for)."""
    keys = _keys(count)
    batches = cut_batches(keys, batch_size)
    assert [len(b) for b in batches] == sizes
    assert [k for batch in batches for k in batch] == keys, "every key once, in order"


@pytest.mark.parametrize(
    ("count", "batch_size", "sizes"),
    [
        (513, 300, [129, 128, 128, 128]),
        (1010, 300, [253, 253, 252, 252]),
        (1500, 300, [300] * 5),
        (250, 300, [125, 125]),
        (99, 300, [99]),
        (450, 0, [450]),
    ],
    ids=["spread-over-the-slots", "as-many-as-slots", "more-than-slots", "100-keys-a-batch", "too-few", "no-size"],
)
def test_batches_fill_the_pool_while_each_keeps_enough_keys(count: int, batch_size: int, sizes: list[int]) -> None:
    """4 slots: a fan-out the size would cut into fewer batches is spread over the slots, down to
    MIN_BATCH_KEYS keys a batch; one with no size stays one batch."""
    assert MIN_BATCH_KEYS == 100
    bounds = batch_bounds(count, batch_size, min_batches=4)
    assert [stop - start for start, stop in bounds] == sizes
    assert bounds[0][0] == 0 and bounds[-1][1] == count


@pytest.mark.parametrize("batch_size", [0, -1], ids=["zero", "negative"])
def test_batch_size_zero_means_one_batch_with_every_key(batch_size: int) -> None:
    keys = _keys(450)
    assert cut_batches(keys, batch_size) == [keys]


def test_batches_grow_to_stay_within_airflows_max_map_length() -> None:
    keys = [{"pipeline_id": str(i)} for i in range(204_801)]
    batches = cut_batches(keys, 200)
    assert len(batches) <= 1024
    assert [k for b in batches for k in b] == keys
    assert [len(b) for b in cut_batches(keys[:1000], 200, max_batches=1024)] == [200] * 5


@pytest.mark.parametrize(
    "parent_output",
    [None, [], [None, None], {}, {"resource": "p", "load_ids": []}, [{"resource": "p", "load_ids": None}]],
    ids=["none", "empty-list", "all-skipped", "empty-mapping", "no-load", "load-ids-none"],
)
def test_nothing_loaded_gives_no_batches_without_opening_the_destination(parent_output: Any, tmp_path: Path) -> None:
    """An empty list makes Airflow skip the mapped child instead of failing the run."""
    missing = tmp_path / "no" / "warehouse.duckdb"
    assert plan_batches(parent_output, "jobs", batch_size=10, destination_conn_id=None) == []
    assert not missing.parent.exists()


def test_parent_loads_of_a_mapped_parent_skip_instances_that_returned_nothing() -> None:
    """A mapped parent's output as Airflow hands it over: one entry per instance, None where an
    instance was skipped (no XCom)."""
    outputs = [
        {"resource": "repos", "load_ids": ["2.0", "1.0"], "rows": {"repositories": 4}, "refresh_parents": ["a"]},
        None,
        {"resource": "repos", "load_ids": ["3.0"], "rows": {"repositories": 2}, "refresh_parents": ["a", "b"]},
    ]
    loads = parent_loads(outputs, "repositories")
    assert loads == ParentLoads(load_ids=["1.0", "2.0", "3.0"], refresh_parents=["a", "b"], rows=6)
    assert not loads.empty
    assert parent_loads([None, None], "repositories").empty


# --- against a real DuckDB file: keys recorded the way a parent's load records them ----------------


def load_rows(path: Path, table: str, rows: list[dict[str, Any]], primary_key: str | list[str] = "id") -> str:
    """Merge `rows` into `analytics.<table>` of the DuckDB file; the load id."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name=f"test_{table}",
        destination=dlt.destinations.duckdb(str(path)),
        dataset_name="analytics",
        pipelines_dir=str(path.parent / "dlt"),
    )
    if table.startswith(KEYS_PREFIX):
        info = pipeline.run(rows, table_name=table, write_disposition="append", columns=KEYS_COLUMNS)
    else:
        info = pipeline.run(rows, table_name=table, write_disposition="merge", primary_key=primary_key)
    (load_id,) = info.loads_ids
    return load_id


def pages(rows: list[dict[str, Any]], size: int = 2) -> list[dict[str, Any]]:
    """`rows` recorded as a parent's load records them: a keys row per page of `size` rows."""
    fields = sorted({f for row in rows for f in row})
    return [recorded_page(rows[i : i + size], fields) for i in range(0, len(rows), size)]


def record(path: Path, parent_table: str, rows: list[dict[str, Any]]) -> str:
    """A parent load's recorded keys (what `plan_<child>` reads); the load id."""
    return load_rows(path, keys_table(parent_table), pages(rows))


def _summary(*load_ids: str, **extra: Any) -> dict[str, Any]:
    """An AnalyticsLoadOperator summary, reduced to what plan_batches reads."""
    return {"resource": "parent", "load_ids": list(load_ids), **extra}


def _job(i: int, status: str = "success", number: int | None = None) -> dict[str, Any]:
    return {"project_slug": "gh/acme/api", "job_number": number or i, "status": status}


def test_keys_come_from_what_the_parent_load_recorded(duckdb_path: Path) -> None:
    """`jobs` binds project_slug + job_number of `workflow_jobs` rows, running ones too (their
    details are loaded and re-read until final), and never a row without a job number (approval jobs)."""
    rows = [_job(1), _job(2, "running"), _job(3, "failed"), {**_job(4), "job_number": None}, _job(5, number=1)]
    load_id = record(duckdb_path, "workflow_jobs", rows)
    batches = plan_batches(_summary(load_id), "jobs", batch_size=1)
    assert batches == [
        [{"project_slug": "gh/acme/api", "job_number": 1}],
        [{"project_slug": "gh/acme/api", "job_number": 2}],
        [{"project_slug": "gh/acme/api", "job_number": 3}],
    ], "one key per (slug, number), none for the row without a number"


def test_exactly_the_keys_of_the_given_loads(duckdb_path: Path) -> None:
    """Not those of an earlier or a later load (another run's), even of the same parent rows."""
    record(duckdb_path, "workflow", [{"id": "old", "status": "success"}])
    mine = record(duckdb_path, "workflow", [{"id": "a", "status": "success"}, {"id": "b", "status": "running"}])
    record(duckdb_path, "workflow", [{"id": "b", "status": "success"}, {"id": "c", "status": "success"}])
    assert plan_batches(_summary(mine), "workflow_jobs") == [[{"workflow_id": "a"}, {"workflow_id": "b"}]]


def test_summaries_of_a_mapped_parent_are_read_together(duckdb_path: Path) -> None:
    first = record(duckdb_path, "workflow", [{"id": "a", "status": "success"}])
    second = record(duckdb_path, "workflow", [{"id": "b", "status": "success"}, {"id": "a", "status": "success"}])
    lazy = (_summary(second), None, _summary(first))  # a mapped parent's XCom: a sequence with skipped indexes
    assert plan_batches(lazy, "workflow_jobs") == [[{"workflow_id": "a"}, {"workflow_id": "b"}]], "each key once"


def test_refresh_parents_are_added_once(duckdb_path: Path) -> None:
    load_id = record(duckdb_path, "pipelines", [{"id": "p1"}])
    output = _summary(load_id, refresh_parents=["p0", "p1"])
    keys = [k for b in plan_batches(output, "pipeline_workflows") for k in b]
    assert sorted(k["pipeline_id"] for k in keys) == ["p0", "p1"]
    # refresh parents alone (nothing new loaded) still fan out
    assert plan_batches(_summary(refresh_parents=["p9"]), "pipeline_workflows") == [[{"pipeline_id": "p9"}]]


def test_jobs_already_loaded_final_are_not_handed_again(duckdb_path: Path) -> None:
    """`skip_final`: a job loaded while running is handed again (until its details are final)."""
    load_id = record(duckdb_path, "workflow_jobs", [_job(1), _job(2), _job(3)])
    done = [
        {"project_slug": "gh/acme/api", "number": 1, "status": "success"},
        {"project_slug": "gh/acme/api", "number": 3, "status": "running"},
    ]
    load_rows(duckdb_path, "jobs", done, primary_key=["project_slug", "number"])
    assert plan_batches(_summary(load_id), "jobs") == [
        [{"project_slug": "gh/acme/api", "job_number": 2}, {"project_slug": "gh/acme/api", "job_number": 3}]
    ]


def test_job_lists_are_re_read_only_while_a_job_of_them_is_not_final(duckdb_path: Path) -> None:
    load_id = record(duckdb_path, "workflow", [{"id": w, "status": "success"} for w in ("a", "b", "c")])
    loaded = [
        {"id": "j1", "workflow_id": "a", "status": "success"},
        {"id": "j2", "workflow_id": "a", "status": "not_run"},
        {"id": "j3", "workflow_id": "b", "status": "success"},
        {"id": "j4", "workflow_id": "b", "status": "on_hold"},
    ]
    load_rows(duckdb_path, "workflow_jobs", loaded)
    assert plan_batches(_summary(load_id), "workflow_jobs") == [[{"workflow_id": "b"}, {"workflow_id": "c"}]]


def test_a_field_no_row_ever_had_is_a_missing_value_not_an_error(duckdb_path: Path) -> None:
    """No `workflow_jobs` row had a job number yet (all approvals)."""
    load_id = record(duckdb_path, "workflow_jobs", [{"project_slug": "gh/a/b", "status": "success"}])
    assert plan_batches(_summary(load_id), "jobs") == []


def test_rows_loaded_without_recorded_keys_is_an_error_naming_the_fix(duckdb_path: Path) -> None:
    """Keys pruned (after 30 days) or dropped: an empty fan-out would silently skip the children."""
    record(duckdb_path, "workflow", [{"id": "a", "status": "success"}])
    summary = _summary("1700000000.1", rows={"workflow": 3})
    with pytest.raises(LookupError, match=r"loaded 3 rows .* re-run the `pipeline_workflows` task"):
        plan_batches(summary, "workflow_jobs")


def test_keys_are_read_from_postgres_too(pg_database: str, tmp_path: Path) -> None:
    """The same read through dlt's SQL client of another destination (connection `analytics_warehouse`)."""
    import dlt

    pipeline = dlt.pipeline(
        pipeline_name="test_pg_plan",
        destination=dlt.destinations.postgres(credentials=f"postgresql://postgres:@127.0.0.1:5432/{pg_database}"),
        dataset_name="analytics",
        pipelines_dir=str(tmp_path / "dlt"),
    )
    rows = [{"id": f"w{i}", "status": "success"} for i in range(5)]
    table = keys_table("workflow")
    info = pipeline.run(pages(rows), table_name=table, write_disposition="append", columns=KEYS_COLUMNS)
    (load_id,) = info.loads_ids
    batches = plan_batches(_summary(load_id), "workflow_jobs", batch_size=2, destination_conn_id="analytics_warehouse")
    assert [[k["workflow_id"] for k in b] for b in batches] == [["w0", "w1"], ["w2", "w3"], ["w4"]]


def test_the_plan_task_pushes_each_batch_as_its_own_xcom_and_returns_references(
    duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the DAG's `plan_<child>` task runs: Airflow maps the child over the small references;
    each mapped task pulls its own batch."""
    load_id = record(duckdb_path, "workflow", [{"id": f"w{i}", "status": "success"} for i in range(5)])
    pushed: dict[str, Any] = {}
    ti = SimpleNamespace(task_id="plan_workflow_jobs", xcom_push=lambda key, value: pushed.__setitem__(key, value))
    monkeypatch.setattr("airflow.sdk.get_current_context", lambda: {"ti": ti})
    refs = plan_batch_refs(_summary(load_id), "workflow_jobs", batch_size=2)
    assert [[k["workflow_id"] for k in b] for b in pushed.values()] == [["w0", "w1"], ["w2", "w3"], ["w4"]]
    assert [r["keys"] for r in refs] == [2, 2, 1]
    ti.xcom_pull = lambda task_ids, key: pushed[key] if task_ids == "plan_workflow_jobs" else None
    assert [pull_batch(r, {"ti": ti}) for r in refs] == list(pushed.values()), "each reference names its batch"


def test_keys_are_held_as_value_tuples_and_made_into_dicts_when_read(duckdb_path: Path) -> None:
    """A dict per key took twice the memory of a tuple at 1M keys (bench/memory.py, plan task)."""
    load_id = record(duckdb_path, "workflow_jobs", [_job(2), _job(1), _job(2)])
    spec = load_spec()
    with open_sql(None, "analytics") as sql:
        keys = read_child_keys(sql, spec.resource("workflow_jobs"), spec.resource("jobs"), [load_id])
    assert isinstance(keys, KeyList) and keys.values == [("gh/acme/api", 1), ("gh/acme/api", 2)]
    assert keys[1:] == [{"project_slug": "gh/acme/api", "job_number": 2}]
    assert list(keys) == [{"project_slug": "gh/acme/api", "job_number": n} for n in (1, 2)]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(["b", "a", "c"], ["a", "b", "c"], id="text"),
        pytest.param([10, 9, 2.5], [2.5, 9, 10], id="numbers-numerically"),
        pytest.param(["10", 9, "9", 100], [9, 100, "10", "9"], id="numbers-before-text"),
    ],
)
def test_keys_come_in_one_order_whatever_order_the_pages_came_in(values: list[Any], expected: list[Any]) -> None:
    """Numbers in numeric order before text in text order: the same batches on every read."""
    spec = load_spec()
    parent, child = spec.resource("workflow"), spec.resource("workflow_jobs")
    for rows in ([{"id": v} for v in values], [{"id": v} for v in reversed(values)]):
        assert [k["workflow_id"] for k in distinct_keys(parent, child, rows)] == expected


def test_keys_of_two_fields_sort_on_the_first_then_the_second() -> None:
    spec = load_spec()
    rows = [_job(0, number=n) | {"project_slug": slug} for slug, n in [("gh/b", 2), ("gh/a", 10), ("gh/a", 9)]]
    keys = distinct_keys(spec.resource("workflow_jobs"), spec.resource("jobs"), rows)
    assert [(k["project_slug"], k["job_number"]) for k in keys] == [("gh/a", 9), ("gh/a", 10), ("gh/b", 2)]
