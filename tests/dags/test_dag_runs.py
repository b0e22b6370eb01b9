"""Whole generated DAGs executed by Airflow (`airflow dags test`: real task runner, real XCom,
real dynamic task mapping) against the emulator, into a real DuckDB file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, EMULATOR_NOW

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
LOGICAL_DATE = (EMULATOR_NOW - timedelta(days=1)).strftime("%Y-%m-%d")
GROUP = "pipeline_workflows_batches"
"""The mapped task group loading each batch of pipelines' workflows, their jobs and job details."""


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from analytics_provider.testing.emulator import Emulator, EmulatorConfig

    home = tmp_path_factory.mktemp("airflow_dags_test")
    emulator = Emulator(EmulatorConfig(port=0, seed=5, days=5, now=EMULATOR_NOW, api_key=API_KEY)).start()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW_CONN_ANALYTICS_API_DEFAULT": json.dumps(
            {"conn_type": "analytics_api", "host": emulator.base_url, "password": API_KEY}
        ),
        "ANALYTICS_DUCKDB_PATH": str(home / "warehouse.duckdb"),
        "ANALYTICS_TASK_RETRIES": "0",
    }
    migrated = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, capture_output=True, text=True, timeout=300
    )
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    env["_EMULATOR_URL"] = emulator.base_url
    try:
        yield env
    finally:
        emulator.stop()


def _dags_test(env: dict[str, str], dag_id: str, conf: dict[str, Any] | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "airflow", "dags", "test", dag_id, LOGICAL_DATE]
    if conf is not None:
        args += ["-c", json.dumps(conf)]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=600)


def _latest_run(db: sqlite3.Connection, dag_id: str) -> str:
    (run_id,) = db.execute("SELECT run_id FROM dag_run WHERE dag_id = ? ORDER BY id DESC LIMIT 1", (dag_id,)).fetchone()
    return str(run_id)


def _states(env: dict[str, str], dag_id: str) -> dict[str, list[str]]:
    """Task states of the DAG's latest run, from the metadata DB (one entry per map index)."""
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        run_id = _latest_run(db, dag_id)
        rows = db.execute(
            "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
            (dag_id, run_id),
        ).fetchall()
    states: dict[str, list[str]] = {}
    for task_id, state in rows:
        states.setdefault(task_id, []).append(state)
    return states


def _xcom(env: dict[str, str], dag_id: str, task_id: str, key: str) -> Any:
    """An XCom of the DAG's latest run (the unmapped task's), from the metadata DB."""
    with sqlite3.connect(Path(env["AIRFLOW_HOME"]) / "airflow.db") as db:
        run_id = _latest_run(db, dag_id)
        row = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ? AND map_index = -1",
            (dag_id, run_id, task_id, key),
        ).fetchone()
    assert row is not None, f"no XCom {key} of {task_id}"
    value = json.loads(row[0])
    return json.loads(value) if isinstance(value, str) else value


def test_an_empty_fan_out_skips_cleanly(airflow_env: dict[str, str]) -> None:
    result = _dags_test(airflow_env, "analytics_pipelines", {"orgs": "gh/no-such-org"})
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    states = _states(airflow_env, "analytics_pipelines")
    assert states["self_collaborations"] == ["success"]
    assert states["pipelines"] == ["skipped"], "no org: no keys, skipped by the task itself"
    fanned_out = [f"{GROUP}.{t}" for t in ("pipeline_workflows", "workflow", "workflow_jobs", "jobs")]
    for task in ("plan_pipeline_workflows", *fanned_out, "context"):
        assert set(states[task]) == {"skipped"}, (task, states[task])
    assert states["plan_context"] == ["success"], "no batches: Airflow skips the mapped `context`"


def test_the_pipelines_dag_fans_out_over_mapped_batches(airflow_env: dict[str, str]) -> None:
    import duckdb

    result = _dags_test(airflow_env, "analytics_pipelines")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    states = _states(airflow_env, "analytics_pipelines")
    assert all(state in ("success", "skipped") for values in states.values() for state in values), states
    assert states["pipelines"] == ["success"], "the incremental child runs as one task"
    batches = len(states[f"{GROUP}.pipeline_workflows"])
    for task in ("pipeline_workflows", "workflow_jobs", "jobs"):
        assert states[f"{GROUP}.{task}"] == ["success"] * batches, (task, states)
    # the plan task returns a small reference per batch; each batch is an XCom of its own
    refs = _xcom(airflow_env, "analytics_pipelines", "plan_pipeline_workflows", "return_value")
    assert len(refs) == batches
    handed: list[str] = []
    for ref in refs:
        where = ref["batch_xcom"]
        batch = _xcom(airflow_env, "analytics_pipelines", where["task_id"], where["key"])
        assert len(batch) == ref["keys"] and batch[0] == ref["first"], ref
        handed += [key["pipeline_id"] for key in batch]
    with duckdb.connect(airflow_env["ANALYTICS_DUCKDB_PATH"], read_only=True) as con:
        pipelines = con.execute("SELECT count(*) FROM analytics.pipelines").fetchone()[0]
        jobs = con.execute("SELECT count(*), count(DISTINCT (project_slug, number)) FROM analytics.jobs").fetchone()
        pipeline_ids = {r[0] for r in con.execute("SELECT id FROM analytics.pipelines").fetchall()}
    assert pipelines > 0 and jobs[0] == jobs[1] > 0
    assert len(handed) == len(set(handed)) and set(handed) == pipeline_ids, "every pipeline in one batch"


def test_the_projects_dag_loads_workflow_runs_and_reads_unknown_runs_by_id(airflow_env: dict[str, str]) -> None:
    """Insights workflow names -> runs (incremental, server-side start-date) -> runs whose workflow
    is not loaded final yet, by id, with their jobs: under Airflow's task runner, mapped tasks included."""
    import duckdb

    result = _dags_test(airflow_env, "analytics_projects")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    states = _states(airflow_env, "analytics_projects")
    assert all(state in ("success", "skipped") for values in states.values() for state in values), states
    assert states["workflow_runs"] == ["success"], "the incremental child runs as one task"
    with duckdb.connect(airflow_env["ANALYTICS_DUCKDB_PATH"], read_only=True) as con:
        runs = con.execute("SELECT count(*), count(DISTINCT id) FROM analytics.workflow_runs").fetchone()
        unknown = con.execute(
            "SELECT count(*) FROM analytics.workflow_runs r WHERE NOT EXISTS "
            "(SELECT 1 FROM analytics.workflow w WHERE w.id = r.id)"
        ).fetchone()[0]
    assert runs[0] == runs[1] > 0
    assert unknown == 0, "every run's workflow was read by id (or was already loaded)"
    # after the loads, the views over what this DAG loads (views/catalog.py) were created by its last task
    assert states["refresh_views"] == ["success"]
    views = set(_xcom(airflow_env, "analytics_pipelines", "refresh_views", "return_value")["created"])
    assert {"ci_workflow_daily", "ci_job_daily", "ci_approval_daily"} <= views
