"""The load operator against the emulator over real HTTP, into a real DuckDB file and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowSkipException

from analytics_provider.fanout.batching import plan_batches
from analytics_provider.operators.load import AnalyticsLoadOperator
from analytics_provider.testing.chain import run_chain, task_context
from tests.conftest import EMULATOR_NOW

pytestmark = pytest.mark.integration

ALL = [
    "self_ids", "me", "self_collaborations", "context", "pipelines", "pipeline_workflows", "workflow",
    "workflow_jobs", "jobs", "projects", "specific_project", "insights_metrics", "insights_branches",
]  # fmt: skip
DAY = timedelta(days=1)
Query = Callable[[str], list[tuple[Any, ...]]]


def _duckdb_query(path: Path) -> Query:
    import duckdb

    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(path), read_only=True) as con:
            return con.execute(sql).fetchall()

    return query


def _pg_query(database: str) -> Query:
    import psycopg2

    def query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database) as con, con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall()

    return query


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


def _ids(query: Query, table: str, column: str = "id") -> list[Any]:
    return [r[0] for r in query(f"SELECT {column} FROM analytics.{table}")]


def _assert_same_keys(loaded: list[Any], truth: list[Any], table: str) -> None:
    assert len(loaded) == len(set(loaded)), f"{table}: duplicate primary keys"
    missing, extra = set(truth) - set(loaded), set(loaded) - set(truth)
    assert not missing and not extra, f"{table}: {len(missing)} missing, {len(extra)} unexpected"


@pytest.fixture(params=["duckdb", "postgres"])
def destination(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str | None, Query]:
    if request.param == "duckdb":
        path = tmp_path / "warehouse.duckdb"
        monkeypatch.setenv("ANALYTICS_DUCKDB_PATH", str(path))
        return None, _duckdb_query(path)
    database = request.getfixturevalue("pg_database")
    return "analytics_warehouse", _pg_query(database)


def test_every_resource_matches_the_emulator_truth(
    emulator: Any, api_connection: str, destination: tuple[str | None, Query]
) -> None:
    conn_id, query = destination
    window_start = EMULATOR_NOW - DAY
    out = run_chain(ALL, task_context(window_start, EMULATOR_NOW), destination_conn_id=conn_id)

    for root, key in [
        ("self_ids", "id"),
        ("me", "analytics_id"),
        ("self_collaborations", "id"),
        ("projects", "vcs_url"),
    ]:
        _assert_same_keys(_ids(query, root, key), [r[key] for r in emulator.truth(root)], root)
    for table in ("context", "specific_project"):
        _assert_same_keys(_ids(query, table), [r["id"] for r in emulator.truth(table)], table)
    for table in ("insights_metrics", "insights_branches"):
        _assert_same_keys(_ids(query, table, "project_id"), [r["project_id"] for r in emulator.truth(table)], table)

    pipelines = emulator.truth("pipelines", since=_iso(window_start))
    _assert_same_keys(_ids(query, "pipelines"), [p["id"] for p in pipelines], "pipelines")
    pipeline_ids = {p["id"] for p in pipelines}
    workflows = [w for w in emulator.truth("pipeline_workflows") if w["pipeline_id"] in pipeline_ids]
    _assert_same_keys(_ids(query, "workflow"), [w["id"] for w in workflows], "workflow")
    workflow_ids = {w["id"] for w in workflows}
    wf_jobs = [j for j in emulator.truth("workflow_jobs") if j["workflow_id"] in workflow_ids]
    _assert_same_keys(_ids(query, "workflow_jobs"), [j["id"] for j in wf_jobs], "workflow_jobs")
    # child rows carry their parent ids, so they can be joined
    loaded_links = set(query("SELECT id, workflow_id FROM analytics.workflow_jobs"))
    assert loaded_links == {(j["id"], j["workflow_id"]) for j in wf_jobs}
    # every job that has details (a `job_number`), running ones included
    job_keys = {(j["project_slug"], j["job_number"]) for j in wf_jobs if j.get("job_number") is not None}
    assert any(j.get("job_number") is None for j in wf_jobs), "the window should hold approval jobs"
    loaded_jobs = query("SELECT project_slug, number FROM analytics.jobs")
    _assert_same_keys(loaded_jobs, list(job_keys), "jobs")
    # nested lists became child tables linked to their parent rows
    tables = {r[0] for r in query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'")}
    parallel_runs = sum(
        len(j.get("parallel_runs") or [])
        for j in emulator.truth("jobs")
        if (j["project_slug"], j["number"]) in job_keys
    )
    assert parallel_runs and query("SELECT count(*) FROM analytics.jobs__parallel_runs")[0][0] == parallel_runs
    errors = sum(len(p.get("errors") or []) for p in pipelines)
    loaded_errors = (
        query("SELECT count(*) FROM analytics.pipelines__errors")[0][0] if "pipelines__errors" in tables else 0
    )
    assert loaded_errors == errors
    # dynamic-key maps stay JSON columns instead of one table per branch
    assert not any(t.startswith("projects__branches") for t in tables), tables
    summary = out["pipelines"][0]
    assert summary["rows"]["pipelines"] == len(pipelines)
    handed = plan_batches(out["pipelines"], "pipeline_workflows", destination_conn_id=conn_id)
    assert sorted(k["pipeline_id"] for batch in handed for k in batch) == sorted(pipeline_ids)


def test_second_load_updates_rows_in_place(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    query = _duckdb_query(duckdb_path)
    chain = ["self_collaborations", "pipelines", "pipeline_workflows"]
    window = {"start": _iso(EMULATOR_NOW - 2 * DAY), "end": _iso(EMULATOR_NOW)}
    run_chain(chain, task_context(), **window)
    before = query("SELECT count(*) FROM analytics.workflow")[0][0]
    changed = emulator.state.mutate("pipeline_workflows", 3)["ids"]
    run_chain(chain, task_context(), **window)

    assert query("SELECT count(*), count(DISTINCT id) FROM analytics.workflow")[0] == (before, before)
    names = dict(query("SELECT id, name FROM analytics.workflow"))
    truth = {w["id"]: w for w in emulator.truth("pipeline_workflows")}
    for wf_id in changed:
        if wf_id in names:
            assert names[wf_id] == truth[wf_id]["name"] and names[wf_id].endswith("-v2")
    assert any(wf_id in names for wf_id in changed), "a mutated workflow should be inside the window"


def test_a_child_given_its_parents_output_loads_exactly_what_that_load_recorded(
    emulator: Any, api_connection: str, duckdb_path: Path
) -> None:
    """How a task inside a mapped task group gets its keys: from the same instance's parent."""
    query = _duckdb_query(duckdb_path)
    window = {"start": _iso(EMULATOR_NOW - 2 * DAY), "end": _iso(EMULATOR_NOW)}
    out = run_chain(["self_collaborations", "pipelines"], task_context(), **window)
    first, second = (EMULATOR_NOW - 2 * DAY, EMULATOR_NOW - DAY), (EMULATOR_NOW - DAY, EMULATOR_NOW)
    # a second `pipelines` load of only the last day: its output names only its own load
    last_day = AnalyticsLoadOperator(
        task_id="pipelines", resource="pipelines", parent_output=out["self_collaborations"][0],
        start=_iso(second[0]), end=_iso(second[1]),
    ).execute(task_context())  # fmt: skip
    assert last_day["load_ids"] != out["pipelines"][0]["load_ids"]

    child = AnalyticsLoadOperator(
        task_id="pipeline_workflows", resource="pipeline_workflows", parent_output=last_day, **window
    )
    summary = child.execute(task_context())
    day_two = {p["id"] for p in emulator.truth("pipelines", since=_iso(second[0]), until=_iso(second[1]))}
    day_one = {p["id"] for p in emulator.truth("pipelines", since=_iso(first[0]), until=_iso(first[1]))}
    assert day_one and summary["parent_keys"] == len(day_two), "the keys of that load, not of every load"
    loaded = {r[0] for r in query("SELECT DISTINCT pipeline_id FROM analytics.workflow")}
    assert loaded == {w["pipeline_id"] for w in emulator.truth("pipeline_workflows") if w["pipeline_id"] in day_two}

    nothing = {"resource": "pipelines", "rows": {}, "load_ids": []}
    with pytest.raises(AirflowSkipException, match="`pipelines` loaded nothing"):
        AnalyticsLoadOperator(task_id="t", resource="pipeline_workflows", parent_output=nothing).execute(task_context())
    lost = {"resource": "pipelines", "rows": {"pipelines": 3}, "load_ids": ["1234.5"]}
    with pytest.raises(Exception, match="re-run the `pipelines` task"):
        AnalyticsLoadOperator(task_id="t", resource="pipeline_workflows", parent_output=lost).execute(task_context())


def test_two_normalize_processes_load_the_same_rows_and_keys(
    emulator: Any, api_connection: str, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README's `NORMALIZE__WORKERS=2`, with processes spawned as in an Airflow task and the extract
    cut into many files: every row once, and the children still get every key."""
    monkeypatch.setenv("NORMALIZE__WORKERS", "2")
    monkeypatch.setenv("NORMALIZE__START_METHOD", "spawn")
    monkeypatch.setenv("SOURCES__DATA_WRITER__FILE_MAX_ITEMS", "40")
    query = _duckdb_query(duckdb_path)
    window = {"start": _iso(EMULATOR_NOW - 5 * DAY), "end": _iso(EMULATOR_NOW)}
    out = run_chain(["self_collaborations", "pipelines", "pipeline_workflows"], task_context(), **window)

    truth = emulator.truth("pipelines", since=window["start"], until=window["end"])
    assert len(truth) > 120, "several extract files"
    _assert_same_keys(_ids(query, "pipelines"), [p["id"] for p in truth], "pipelines")
    assert sum(s["parent_keys"] for s in out["pipeline_workflows"]) == len(truth), "a key per pipeline"
    in_window = {p["id"] for p in truth}
    wanted = [w["id"] for w in emulator.truth("pipeline_workflows") if w["pipeline_id"] in in_window]
    _assert_same_keys(_ids(query, "workflow"), wanted, "workflow")


def test_incremental_run_reads_only_the_new_window(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    query = _duckdb_query(duckdb_path)
    run_chain(["self_collaborations", "pipelines"], task_context(EMULATOR_NOW - DAY, EMULATOR_NOW))
    first = set(_ids(query, "pipelines"))
    emulator.state.advance(180)
    emulator.reset_stats()

    out = run_chain(["self_collaborations", "pipelines"], task_context(EMULATOR_NOW, EMULATOR_NOW + DAY))

    truth = emulator.truth("pipelines", since=_iso(EMULATOR_NOW - DAY))
    loaded = set(_ids(query, "pipelines"))
    assert loaded == {p["id"] for p in truth}, "the second run adds exactly the new pipelines"
    new = {p["id"] for p in truth if p["created_at"] >= _iso(EMULATOR_NOW)}
    assert new and new <= loaded - first
    # newest-first paging stopped after the window: 3 hours of data plus the 1 h lookback fit in
    # one page per org, and the whole 30-day history would be dozens of pages
    pages = emulator.stats()["routes"].get("GET /v2/pipeline", 0)
    orgs = len(emulator.truth("self_collaborations"))
    assert pages <= 2 * orgs, f"{pages} pipeline pages for {orgs} orgs"
    window = out["pipelines"][0]["window"]
    assert window["stateless"] is False


def test_explicit_window_is_exact_and_leaves_the_cursor_alone(
    emulator: Any, api_connection: str, duckdb_path: Path
) -> None:
    query = _duckdb_query(duckdb_path)
    run_chain(["self_collaborations", "pipelines"], task_context(EMULATOR_NOW - DAY, EMULATOR_NOW))
    old_start, old_end = EMULATOR_NOW - 6 * DAY, EMULATOR_NOW - 5 * DAY
    before = set(_ids(query, "pipelines"))

    out = run_chain(["self_collaborations", "pipelines"], task_context(), start=_iso(old_start), end=_iso(old_end))

    old = {p["id"] for p in emulator.truth("pipelines", since=_iso(old_start), until=_iso(old_end))}
    assert old and set(_ids(query, "pipelines")) == before | old
    assert out["pipelines"][0]["window"]["stateless"] is True
    assert "refresh" not in out["pipelines"][0], "an explicit window leaves the unfinished-record tracking alone"
    # the scheduled cursor did not move back: the next scheduled run reads only recent pages
    emulator.state.advance(60)
    emulator.reset_stats()
    run_chain(["self_collaborations", "pipelines"], task_context(EMULATOR_NOW, EMULATOR_NOW + DAY))
    pages = emulator.stats()["routes"].get("GET /v2/pipeline", 0)
    assert pages <= 2 * len(emulator.truth("self_collaborations"))


def test_pipelines_reads_the_orgs_from_the_api_itself_without_their_task(
    emulator: Any, api_connection: str, duckdb_path: Path
) -> None:
    """`fetch_parent`: the DAG runs `pipelines` beside `self_collaborations`, not after it; the orgs
    come with one more request of its own, and nothing of the orgs is written by it."""
    query = _duckdb_query(duckdb_path)
    window = {"start": _iso(EMULATOR_NOW - DAY), "end": _iso(EMULATOR_NOW)}
    emulator.reset_stats()
    summary = AnalyticsLoadOperator(task_id="pipelines", resource="pipelines", **window).execute(task_context())
    orgs = emulator.truth("self_collaborations")
    truth = emulator.truth("pipelines", since=window["start"], until=window["end"])
    assert truth and summary["parent_keys"] == len(orgs) > 1
    _assert_same_keys(_ids(query, "pipelines"), [p["id"] for p in truth], "pipelines")
    routes = emulator.stats()["routes"]
    assert routes["GET /v2/me/collaborations"] == 1
    assert summary["requests"] == 1 + routes["GET /v2/pipeline"], "the orgs' request is counted with the task's"
    tables = {r[0] for r in query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics'")}
    assert "self_collaborations" not in tables, "the orgs table is the `self_collaborations` task's to write"
    # its own children still get their keys from what it loaded
    assert plan_batches(summary, "pipeline_workflows") != []


def test_a_run_limited_to_some_orgs_loads_only_those(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    query = _duckdb_query(duckdb_path)
    orgs = emulator.truth("self_collaborations")
    wanted = orgs[0]["slug"]
    out = run_chain(
        ["self_collaborations", "context", "pipelines"],
        task_context(EMULATOR_NOW - DAY, EMULATOR_NOW),
        org_slugs=wanted,
    )
    assert _ids(query, "self_collaborations") == [orgs[0]["id"]]
    assert {r[0] for r in query("SELECT DISTINCT org_slug FROM analytics.pipelines")} == {wanted}
    assert {r[0] for r in query("SELECT DISTINCT org_id FROM analytics.context")} == {orgs[0]["id"]}
    assert out["pipelines"][0]["parent_keys"] == 1


def test_full_refresh_rereads_from_the_interval_start_and_keeps_the_cursor_going(
    emulator: Any, api_connection: str, duckdb_path: Path
) -> None:
    query = _duckdb_query(duckdb_path)
    chain = ["self_collaborations", "pipelines"]
    run_chain(chain, task_context(EMULATOR_NOW - DAY, EMULATOR_NOW))
    # a plain run over an older interval continues from the cursor: nothing older is read
    run_chain(chain, task_context(EMULATOR_NOW - 3 * DAY, EMULATOR_NOW - 2 * DAY))
    assert set(_ids(query, "pipelines")) == {
        p["id"] for p in emulator.truth("pipelines", since=_iso(EMULATOR_NOW - DAY))
    }

    out = run_chain(chain, task_context(EMULATOR_NOW - 3 * DAY, EMULATOR_NOW - 2 * DAY), full_refresh="True")

    since = {p["id"] for p in emulator.truth("pipelines", since=_iso(EMULATOR_NOW - 3 * DAY))}
    assert set(_ids(query, "pipelines")) == since
    assert out["pipelines"][0]["window"]["stateless"] is False
    # the cursor is back at the newest pipeline: the next scheduled run reads one page per org
    emulator.reset_stats()
    run_chain(chain, task_context(EMULATOR_NOW, EMULATOR_NOW + DAY))
    assert emulator.stats()["routes"].get("GET /v2/pipeline", 0) <= len(emulator.truth("self_collaborations"))
